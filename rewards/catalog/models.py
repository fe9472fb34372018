"""Catalog tables: the items, and each redemption with how it was fulfilled."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class RewardKind(StrEnum):
    ACCOUNT_CREDIT = "account_credit"  # X minor units of credit in the ledger
    SET_TRAIT = "set_trait"  # e.g. early access: custom.early_access_reports = true
    WEBHOOK = "webhook"  # a custom reward your system fulfils when notified
    PLAN_UPGRADE = "plan_upgrade"  # the better plan at the old price for N months (billing)


class RedemptionStatus(StrEnum):
    FULFILLED = "fulfilled"  # done in the redemption's transaction
    PENDING = "pending"  # handed to the outbox: delivered later, retried on failure
    CANCELLED = "cancelled"  # the points were returned


class RewardItem(SQLModel, table=True):
    __tablename__ = "reward_items"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="ck_reward_items_cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="ck_reward_items_stock_not_negative"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(255), nullable=False))
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    kind: RewardKind = Field(sa_column=Column(String(32), nullable=False))
    cost_points: int = Field(sa_column=Column(BigInteger(), nullable=False))
    fulfilment: dict[str, Any] = Field(sa_column=Column(json_type(), nullable=False))
    segment: str | None = Field(default=None, sa_column=Column(String(64)))
    tiers: list[str] = Field(default_factory=list, sa_column=Column(json_type(), nullable=False))
    stock: int | None = Field(default=None, sa_column=Column(BigInteger()))  # None: unlimited
    per_customer_limit: int | None = None
    is_active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RewardRedemption(SQLModel, table=True):
    __tablename__ = "reward_redemptions"
    __table_args__ = (Index("ix_reward_redemptions_customer", "customer_id", "item_id"),)

    id: int | None = Field(default=None, sa_column=pk_column())
    item_id: int = Field(sa_column=Column(id_type(), ForeignKey("reward_items.id"), nullable=False))
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), nullable=False)
    )
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    points: int = Field(sa_column=Column(BigInteger(), nullable=False))
    status: RedemptionStatus = Field(sa_column=Column(String(16), nullable=False))
    spend_entry_id: int = Field(sa_column=Column(id_type(), nullable=False))
    refund_entry_id: int | None = Field(default=None, sa_column=Column(id_type()))
    outbox_message_id: int | None = Field(default=None, sa_column=Column(id_type()))
    result: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
