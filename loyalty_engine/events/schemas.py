"""Event batch request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loyalty_engine.customers.schemas import ExternalId, UtcInstant

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventType = Field(description="snake_case event type, e.g. `invoice_paid`.")
    customer_id: ExternalId = Field(description="The customer's external id.")
    occurred_at: UtcInstant = Field(description="When it happened (ISO 8601 with an offset).")
    properties: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: IdempotencyKey = Field(
        description="Unique per source: the same key twice stores one event."
    )
    source: Source = Field(default="api", description="Where the event comes from.")


class EventBatchIn(BaseModel):
    """Documents the request body; the route validates each event on its own."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(max_length=1000)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class EventError(BaseModel):
    code: str
    message: str
    path: str


class EventResult(BaseModel):
    index: int
    status: Outcome
    event_id: int | None = None
    idempotency_key: str | None = None
    error: EventError | None = None


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


class EventRead(BaseModel):
    id: int
    type: str
    customer_id: str
    source: str
    idempotency_key: str
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]


class EventPage(BaseModel):
    data: list[EventRead]
    next_cursor: str | None
