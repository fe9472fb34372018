"""Rules and their versions, the decisions they make (with traces), and their budgets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class VersionStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Outcome(StrEnum):
    APPLIED = "applied"
    CAPPED = "capped"  # a per-customer limit was reached
    OVER_BUDGET = "over_budget"  # the rule's budget for the period was spent


class Rule(SQLModel, table=True):
    __tablename__ = "rules"

    id: int | None = Field(default=None, sa_column=pk_column())
    key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RuleVersion(SQLModel, table=True):
    """One version of a rule. Drafts may change; once activated a version never changes."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_version"),
        Index("ix_rule_versions_status", "status"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    rule_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("rules.id", ondelete="CASCADE"), nullable=False)
    )
    version: int = Field(sa_column=Column(Integer(), nullable=False))
    status: VersionStatus = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    triggers: list[str] = Field(default_factory=list, sa_column=Column(json_type(), nullable=False))
    condition: Any = Field(default=True, sa_column=Column(json_type(), nullable=False))
    actions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(json_type(), nullable=False)
    )
    limits: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    priority: int = Field(default=100, sa_column=Column(Integer(), nullable=False))
    stop_after_match: bool = Field(default=False, sa_column=Column(Boolean(), nullable=False))
    segment_key: str | None = Field(default=None, sa_column=Column(String(64)))
    active_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    active_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    activated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Decision(SQLModel, table=True):
    """A rule version that matched an event: what it did (or why not) and the trace of why."""

    __tablename__ = "rule_decisions"
    __table_args__ = (
        # A rule version decides once per event: replays and retries change nothing.
        UniqueConstraint("rule_version_id", "event_id", name="uq_rule_decisions_version_event"),
        Index("ix_rule_decisions_customer", "customer_id", "decided_at"),
        Index("ix_rule_decisions_limits", "rule_id", "customer_id", "outcome", "decided_at"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    rule_id: int = Field(sa_column=Column(id_type(), ForeignKey("rules.id"), nullable=False))
    rule_version_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("rule_versions.id"), nullable=False)
    )
    event_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    )
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    )
    outcome: Outcome = Field(sa_column=Column(String(16), nullable=False))
    grant_unit: str | None = Field(default=None, sa_column=Column(String(16)))
    grant_amount: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    trace: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    results: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(json_type(), nullable=False)
    )
    reason: str = Field(default="", sa_column=Column(Text(), nullable=False))
    decided_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RuleBudget(SQLModel, table=True):
    """How much of a rule's budget a period has used; writers lock the row (never overspend)."""

    __tablename__ = "rule_budgets"
    __table_args__ = (
        UniqueConstraint("rule_id", "period_key", "unit", name="uq_rule_budgets_period"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    rule_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("rules.id", ondelete="CASCADE"), nullable=False)
    )
    period_key: str = Field(sa_column=Column(String(16), nullable=False))
    unit: str = Field(sa_column=Column(String(16), nullable=False))
    spent: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))


class ConfigGeneration(SQLModel, table=True):
    """A counter bumped whenever published configuration (rules, segments) changes, so that
    every process can tell cheaply that its compiled cache is stale."""

    __tablename__ = "config_generations"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    generation: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
