"""The event store: one row per event, unique on (source, idempotency key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, json_type, pk_column


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="uq_events_source_idempotency_key"),
        Index("ix_events_customer_occurred", "customer_id", "occurred_at"),
        Index("ix_events_type_occurred", "type", "occurred_at"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    )
    type: str = Field(sa_column=Column(String(64), nullable=False))
    source: str = Field(sa_column=Column(String(64), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    properties: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
