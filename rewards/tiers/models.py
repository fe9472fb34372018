"""Tier tables: the program (its tiers as one JSON document, edited as a whole), each customer's
current tier, and the history of changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class TierBasis(StrEnum):
    POINTS_EARNED = "points_earned"  # points granted in the qualification window (not the balance)
    MRR = "mrr_minor"  # the customer's MRR trait, in minor units
    TENURE_DAYS = "tenure_days"  # whole days since the subscription started


class QualificationWindow(StrEnum):
    ROLLING_12_MONTHS = "rolling_12_months"
    CALENDAR_YEAR = "calendar_year"


class DowngradePolicy(StrEnum):
    END_OF_WINDOW = "end_of_window"  # after the window the tier was earned in, plus grace
    NEVER = "never"


class TierProgram(SQLModel, table=True):
    """The installation's tier program (one row). `tiers` is the ordered list of tier documents
    (key, name, threshold, multiplier_bps, renewal_discount_bps, perks); `version` counts edits."""

    __tablename__ = "tier_programs"

    id: int | None = Field(default=None, sa_column=pk_column())
    name: str = Field(sa_column=Column(String(255), nullable=False))
    basis: TierBasis = Field(sa_column=Column(String(32), nullable=False))
    window: QualificationWindow = Field(sa_column=Column(String(32), nullable=False))
    downgrade: DowngradePolicy = Field(sa_column=Column(String(32), nullable=False))
    grace_days: int = Field(sa_column=Column(Integer(), nullable=False))
    tiers: list[dict[str, Any]] = Field(sa_column=Column(json_type(), nullable=False))
    version: int = Field(sa_column=Column(Integer(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CustomerTier(SQLModel, table=True):
    """A customer's tier: held since `since`, qualified until `qualified_until` (a downgrade can
    only come after that, plus the program's grace)."""

    __tablename__ = "customer_tiers"
    __table_args__ = (Index("ix_customer_tiers_qualified_until", "qualified_until"),)

    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), primary_key=True)
    )
    tier_key: str = Field(sa_column=Column(String(64), nullable=False))
    basis_value: int = Field(sa_column=Column(BigInteger(), nullable=False))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    qualified_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TierChange(SQLModel, table=True):
    """One upgrade or downgrade, never changed afterwards."""

    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_customer", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), nullable=False)
    )
    from_tier: str | None = Field(default=None, sa_column=Column(String(64)))
    to_tier: str | None = Field(default=None, sa_column=Column(String(64)))
    basis_value: int = Field(sa_column=Column(BigInteger(), nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
