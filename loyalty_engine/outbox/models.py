"""Outbox messages: side effects written with the change that causes them, sent after commit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_customer", "customer_id"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    # Deterministic: derived from the rows that caused the message, and passed on to the
    # receiving system, so a redelivery after a crash has exactly one effect there.
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    customer_id: int | None = Field(
        default=None,
        sa_column=Column(id_type(), ForeignKey("customers.id", ondelete="SET NULL")),
    )
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_column=Column(String(16), nullable=False)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # A worker that claims the message holds it until this instant; a crashed worker's claim lapses.
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    locked_by: str | None = Field(default=None, sa_column=Column(String(128)))
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(json_type()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
