"""Renewal tables: the discount program (its policies as one document) and what billing applied."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class Combination(StrEnum):
    BEST_OF = "best_of"  # the largest matching discount
    SUM_CAPPED = "sum_capped"  # every matching discount added, up to the cap


class RenewalProgram(SQLModel, table=True):
    """The installation's renewal discount policies (one row), edited as a whole."""

    __tablename__ = "renewal_programs"

    id: int | None = Field(default=None, sa_column=pk_column())
    combination: Combination = Field(sa_column=Column(String(16), nullable=False))
    cap_bps: int = Field(sa_column=Column(Integer(), nullable=False))
    include_tier_benefit: bool = Field(nullable=False)
    policies: list[dict[str, Any]] = Field(sa_column=Column(json_type(), nullable=False))
    version: int = Field(sa_column=Column(Integer(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RenewalApplication(SQLModel, table=True):
    """A renewal invoice as billing discounted it, once per (customer, invoice)."""

    __tablename__ = "renewal_applications"
    __table_args__ = (
        UniqueConstraint("customer_id", "invoice_ref", name="uq_renewal_applications_invoice"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), nullable=False)
    )
    invoice_ref: str = Field(sa_column=Column(String(255), nullable=False))
    discount_bps: int = Field(sa_column=Column(Integer(), nullable=False))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    credits_applied_minor: int = Field(sa_column=Column(BigInteger(), nullable=False))
    ledger_entry_id: int | None = Field(default=None, sa_column=Column(id_type()))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
