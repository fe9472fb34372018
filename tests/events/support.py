"""Helpers shared by the customers and events tests: build events, post batches, count rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from loyalty_engine.customers.models import Customer
from loyalty_engine.events.models import Event
from tests.conftest import START


def event(
    key: str,
    *,
    type: str = "page_viewed",
    customer: str = "acme",
    at: datetime = START - timedelta(hours=1),
    **properties: Any,
) -> dict[str, Any]:
    """One event as a client sends it (`occurred_at` an hour before the frozen clock)."""
    return {
        "type": type,
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "idempotency_key": key,
        "properties": properties,
    }


def post_events(
    client: TestClient, headers: dict[str, str], *events: dict[str, Any]
) -> dict[str, Any]:
    """POST a batch that must be answered 200; the ingest result."""
    response = client.post("/v1/events", json={"events": list(events)}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Event)).scalar_one())


def customer_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Customer)).scalar_one())
