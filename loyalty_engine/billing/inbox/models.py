"""The inbox table: each Stripe event once, as received, with what processing made of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, json_type, pk_column


class InboxStatus(StrEnum):
    PENDING = "pending"  # stored, not yet processed (or due for another attempt)
    PROCESSED = "processed"  # turned into our events
    IGNORED = "ignored"  # a type we do not handle: kept, nothing done
    UNLINKED = "unlinked"  # no customer of ours has this Stripe customer yet: redone on linking
    FAILED = "failed"  # processing raised: retried with backoff, dead after the last attempt
    DEAD = "dead"


class StripeWebhookEvent(SQLModel, table=True):
    __tablename__ = "stripe_webhook_events"
    __table_args__ = (
        Index("ix_stripe_webhook_events_due", "status", "next_attempt_at"),
        Index("ix_stripe_webhook_events_customer", "stripe_customer_id", "status"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    stripe_event_id: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(128), nullable=False))
    # Stripe's `created`: the order of events, whatever the order of delivery.
    stripe_created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    stripe_customer_id: str | None = Field(default=None, sa_column=Column(String(255)))
    livemode: bool = False
    payload: dict[str, Any] = Field(sa_column=Column(json_type(), nullable=False))
    status: InboxStatus = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(json_type()))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
