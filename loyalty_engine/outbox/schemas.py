"""Outbox listings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from loyalty_engine.outbox.models import OutboxStatus


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    idempotency_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    created_at: datetime
    delivered_at: datetime | None


class OutboxPage(BaseModel):
    data: list[OutboxMessageRead]
    next_cursor: str | None
