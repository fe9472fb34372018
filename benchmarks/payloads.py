"""Realistic product events for the benchmark, and the same events as rows for the baseline."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

# Product-usage events: none of them names a trait, so no reactor runs ("no rules").
EVENT_TYPES = ("feature_used", "report_exported", "dashboard_viewed", "integration_synced")
FEATURES = ("segments", "exports", "api", "sso", "audit_log", "webhooks", "forecasts", "alerts")
PLANS = ("starter", "growth", "scale", "enterprise")
PAGES = ("/dashboard", "/reports/weekly", "/settings/billing", "/integrations/salesforce")
SOURCE = "product"
_SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f"


def customer_external_id(n: int) -> str:
    return f"bench-customer-{n:05d}"


@dataclass(frozen=True, slots=True)
class EventFactory:
    """Events spread over `customers` customers, stamped in the 30 days before `now`."""

    customers: int
    now: datetime
    run_id: str
    seed: int = 7

    def events(self, phase: str, count: int) -> Iterator[dict[str, Any]]:
        rng = random.Random(f"{self.seed}-{phase}")
        for n in range(count):
            occurred = self.now - timedelta(seconds=rng.randrange(30 * 86_400))
            yield {
                "type": rng.choice(EVENT_TYPES),
                "customer_id": customer_external_id(rng.randrange(self.customers)),
                "occurred_at": occurred.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "idempotency_key": f"{self.run_id}-{phase}-{n:07d}",
                "source": SOURCE,
                "properties": {
                    "feature": rng.choice(FEATURES),
                    "plan": rng.choice(PLANS),
                    "page": rng.choice(PAGES),
                    "duration_ms": rng.randrange(20, 90_000),
                    "seats": rng.randrange(1, 500),
                },
            }

    def batch_bodies(self, phase: str, count: int, size: int) -> list[tuple[int, bytes]]:
        """`count` events as request bodies of at most `size` events, with their event counts."""
        bodies: list[tuple[int, bytes]] = []
        batch: list[dict[str, Any]] = []
        for event in self.events(phase, count):
            batch.append(event)
            if len(batch) == size:
                bodies.append((len(batch), orjson.dumps({"events": batch})))
                batch = []
        if batch:
            bodies.append((len(batch), orjson.dumps({"events": batch})))
        return bodies


def sqlite_row(
    event: dict[str, Any], *, customer_pk: int, received_at: datetime
) -> tuple[Any, ...]:
    """The event as the product stores it in SQLite: naive UTC instants as text, JSON as text."""
    occurred = datetime.fromisoformat(event["occurred_at"])
    return (
        customer_pk,
        event["type"],
        event["source"],
        event["idempotency_key"],
        occurred.replace(tzinfo=None).strftime(_SQLITE_INSTANT),
        received_at.replace(tzinfo=None).strftime(_SQLITE_INSTANT),
        orjson.dumps(event["properties"]).decode(),
    )


def postgresql_row(
    event: dict[str, Any], *, customer_pk: int, received_at: datetime
) -> tuple[Any, ...]:
    """The event as the product binds it on PostgreSQL: aware instants, JSON text cast to JSONB."""
    return (
        customer_pk,
        event["type"],
        event["source"],
        event["idempotency_key"],
        datetime.fromisoformat(event["occurred_at"]),
        received_at,
        orjson.dumps(event["properties"]).decode(),
    )
