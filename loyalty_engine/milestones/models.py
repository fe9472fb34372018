"""Milestone tables: definitions, per-step event counts, achievements (once per customer), and the
renewal counter behind `customer.renewals`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class AchievedBy(StrEnum):
    PROGRESS = "progress"  # its steps (and condition) were completed by the customer's events
    RULE = "rule"  # a rule's grant_milestone action
    STAFF = "staff"  # a grant through the API (admin or support)


class Milestone(SQLModel, table=True):
    """A named achievement and what completes it: counted steps, a condition over facts, both,
    or neither (then only a grant achieves it)."""

    __tablename__ = "milestones"

    id: int | None = Field(default=None, sa_column=pk_column())
    key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    # [{"key", "name", "event", "condition", "count"}], validated by schemas.MilestoneFields.
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(json_type(), nullable=False)
    )
    required_steps: int | None = Field(default=None, sa_column=Column(Integer()))
    required_bps: int | None = Field(default=None, sa_column=Column(Integer()))
    condition: Any = Field(default=None, sa_column=Column(json_type()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class MilestoneStepCount(SQLModel, table=True):
    """How many matching events a customer has had for one step of one milestone."""

    __tablename__ = "milestone_step_counts"

    customer_id: int = Field(
        sa_column=Column(
            id_type(), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
        )
    )
    milestone_id: int = Field(
        sa_column=Column(
            id_type(), ForeignKey("milestones.id", ondelete="CASCADE"), primary_key=True
        )
    )
    step_key: str = Field(sa_column=Column(String(64), primary_key=True))
    count: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MilestoneAchievement(SQLModel, table=True):
    """A customer achieved a milestone: recorded once, whoever or whatever achieved it."""

    __tablename__ = "milestone_achievements"
    __table_args__ = (
        UniqueConstraint("customer_id", "milestone_id", name="uq_milestone_achievements_once"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    )
    milestone_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("milestones.id", ondelete="CASCADE"), nullable=False)
    )
    achieved_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    achieved_by: AchievedBy = Field(sa_column=Column(String(16), nullable=False))
    # The event that completed it (progress) or triggered the rule that granted it.
    event_id: int | None = Field(
        default=None,
        sa_column=Column(id_type(), ForeignKey("events.id", ondelete="SET NULL")),
    )
    actor: str = Field(default="", sa_column=Column(String(128), nullable=False))


class CustomerRenewals(SQLModel, table=True):
    """How many `renewed` events a customer has had: the `customer.renewals` fact, kept as a
    counter so that reading it never scans the event store."""

    __tablename__ = "customer_renewals"

    customer_id: int = Field(
        sa_column=Column(
            id_type(), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
        )
    )
    renewals: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
