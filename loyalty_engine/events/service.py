"""Ingest, the one door: dedupe on (source, idempotency key), store, run reactors; and reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from loyalty_engine.customers.models import Customer
from loyalty_engine.db import insert_ignore
from loyalty_engine.events.models import Event
from loyalty_engine.events.reactors import ReactContext, ReactorRegistry, StoredEvent
from loyalty_engine.events.schemas import EventIn, Outcome
from loyalty_engine.pagination import cursor_id, cursor_instant, decode_cursor, encode_cursor

EVENTS = Event.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class IngestLimits:
    future_tolerance: timedelta
    max_properties_bytes: int


@dataclass(slots=True)
class Result:
    index: int
    status: Outcome
    idempotency_key: str | None = None
    event_id: int | None = None
    error: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "event_id": self.event_id,
            "idempotency_key": self.idempotency_key,
            "error": self.error,
        }


# Events the engine makes itself (rule follow-ups, sweeps, announcements): built by code, so
# their properties may be larger than a client's, and never dated after `now`.
INTERNAL_LIMITS = IngestLimits(future_tolerance=timedelta(0), max_properties_bytes=1 << 20)


@dataclass(frozen=True, slots=True)
class InternalEvent:
    type: str
    customer_id: str  # the customer's external id, as clients name it
    properties: dict[str, Any]
    idempotency_key: str
    occurred_at: datetime | None = None  # default: now


def ingest_internal(
    session: Session,
    *,
    events: Sequence[InternalEvent],
    source: str,
    reactors: ReactorRegistry,
    now: datetime,
    depth: int = 0,
) -> list[Result]:
    """Ingest events the engine makes, through the same door as everyone's (so reactors and
    idempotency apply), `depth` levels below the events from outside."""
    batch = [
        (
            index,
            EventIn(
                type=event.type,
                customer_id=event.customer_id,
                occurred_at=event.occurred_at or now,
                properties=event.properties,
                idempotency_key=event.idempotency_key,
                source=source,
            ),
        )
        for index, event in enumerate(events)
    ]
    if not batch:
        return []
    return ingest(
        session, events=batch, reactors=reactors, limits=INTERNAL_LIMITS, now=now, depth=depth
    )


def rejected(index: int, code: str, message: str, path: str, key: str | None = None) -> Result:
    return Result(
        index, Outcome.REJECTED, key, error={"code": code, "message": message, "path": path}
    )


def ingest(
    session: Session,
    *,
    events: Sequence[tuple[int, EventIn]],
    reactors: ReactorRegistry,
    limits: IngestLimits,
    now: datetime,
    depth: int = 0,
) -> list[Result]:
    """Store each valid, new event once and run its reactors; one result per event given.

    An event is judged on its own first (its fields, its customer); only an acceptable event
    claims its idempotency key, and a later copy of it in the batch shares its outcome.
    """
    results: list[Result] = []
    checked: list[tuple[int, EventIn]] = []
    for index, event in events:
        problem_ = _check(index, event, reactors, limits, now)
        if problem_ is None:
            checked.append((index, event))
        else:
            results.append(problem_)
    customer_ids = _customer_ids(session, {event.customer_id for _, event in checked})
    first: dict[tuple[str, str], int] = {}
    fresh: list[tuple[int, EventIn]] = []
    repeats: list[tuple[Result, int]] = []
    for index, event in checked:
        key = (event.source, event.idempotency_key)
        if event.customer_id not in customer_ids:
            results.append(_unknown_customer(index, event))
        elif key in first:
            repeats.append((Result(index, Outcome.DUPLICATE, event.idempotency_key), first[key]))
        else:
            first[key] = index
            fresh.append((index, event))
    stored = _store(session, fresh, customer_ids, reactors, now, depth)
    event_ids = {r.index: r.event_id for r in stored}
    for repeat, first_index in repeats:
        repeat.event_id = event_ids[first_index]
    results.extend(stored)
    results.extend(repeat for repeat, _ in repeats)
    results.sort(key=lambda r: r.index)
    return results


def _unknown_customer(index: int, event: EventIn) -> Result:
    return rejected(
        index,
        "unknown_customer",
        f"no customer with id {event.customer_id!r}: create it with PUT /v1/customers/{{id}} first",
        f"$.events[{index}].customer_id",
        event.idempotency_key,
    )


def _check(
    index: int, event: EventIn, reactors: ReactorRegistry, limits: IngestLimits, now: datetime
) -> Result | None:
    key = event.idempotency_key
    if event.occurred_at > now + limits.future_tolerance:
        return rejected(
            index,
            "occurred_in_future",
            f"occurred_at is more than {limits.future_tolerance} ahead of the server clock",
            f"$.events[{index}].occurred_at",
            key,
        )
    if len(orjson.dumps(event.properties)) > limits.max_properties_bytes:
        return rejected(
            index,
            "properties_too_large",
            f"properties exceed {limits.max_properties_bytes} bytes of JSON",
            f"$.events[{index}].properties",
            key,
        )
    for found in reactors.validate(event.type, event.properties):
        return rejected(
            index, "invalid_properties", found.message, f"$.events[{index}].{found.path}", key
        )
    return None


# Built once (ingest is the hot path); the id list is bound at execution.
_CUSTOMER_IDS = select(CUSTOMERS.c.external_id, CUSTOMERS.c.id).where(
    CUSTOMERS.c.external_id.in_(bindparam("external_ids", expanding=True))
)


def _customer_ids(session: Session, external_ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    wanted = sorted(external_ids)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(dict(session.execute(_CUSTOMER_IDS, {"external_ids": chunk}).all()))
    return found


def _store(
    session: Session,
    known: list[tuple[int, EventIn]],
    customer_ids: dict[str, int],
    reactors: ReactorRegistry,
    now: datetime,
    depth: int,
) -> list[Result]:
    if not known:
        return []
    rows = [
        {
            "customer_id": customer_ids[e.customer_id],
            "type": e.type,
            "source": e.source,
            "idempotency_key": e.idempotency_key,
            "occurred_at": e.occurred_at,
            "received_at": now,
            "properties": e.properties,
        }
        for _, e in known
    ]
    dialect = session.get_bind().dialect.name
    stmt = insert_ignore(EVENTS, dialect).returning(
        EVENTS.c.id, EVENTS.c.source, EVENTS.c.idempotency_key
    )
    inserted = {(src, key): id_ for id_, src, key in session.execute(stmt, rows)}
    duplicates = [(i, e) for i, e in known if (e.source, e.idempotency_key) not in inserted]
    existing = _existing_ids(session, duplicates)
    results = [
        Result(i, Outcome.DUPLICATE, e.idempotency_key, existing.get((e.source, e.idempotency_key)))
        for i, e in duplicates
    ]
    stored: list[StoredEvent] = []
    for index, e in known:
        event_id = inserted.get((e.source, e.idempotency_key))
        if event_id is None:
            continue
        results.append(Result(index, Outcome.ACCEPTED, e.idempotency_key, event_id))
        stored.append(
            StoredEvent(
                event_id,
                customer_ids[e.customer_id],
                e.customer_id,
                e.type,
                e.source,
                e.occurred_at,
                e.properties,
            )
        )
    reactors.react(session, stored, ReactContext(now=now, depth=depth))
    return results


def _existing_ids(
    session: Session, duplicates: list[tuple[int, EventIn]]
) -> dict[tuple[str, str], int]:
    if not duplicates:
        return {}
    keys = [(e.source, e.idempotency_key) for _, e in duplicates]
    stmt = select(EVENTS.c.source, EVENTS.c.idempotency_key, EVENTS.c.id).where(
        tuple_(EVENTS.c.source, EVENTS.c.idempotency_key).in_(keys)
    )
    return {(src, key): id_ for src, key, id_ in session.execute(stmt)}


def list_events(
    session: Session,
    *,
    customer_id: int | None,
    event_type: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first by (occurred_at, id); each row with its customer's external id."""
    stmt = (
        select(EVENTS, CUSTOMERS.c.external_id.label("customer_external_id"))
        .join(CUSTOMERS, CUSTOMERS.c.id == EVENTS.c.customer_id)
        .order_by(EVENTS.c.occurred_at.desc(), EVENTS.c.id.desc())
        .limit(limit + 1)
    )
    if customer_id is not None:
        stmt = stmt.where(EVENTS.c.customer_id == customer_id)
    if event_type is not None:
        stmt = stmt.where(EVENTS.c.type == event_type)
    if occurred_from is not None:
        stmt = stmt.where(EVENTS.c.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(EVENTS.c.occurred_at < occurred_to)
    if cursor is not None:
        position = decode_cursor(cursor, ("at", "id"))
        at, last_id = cursor_instant(position, "at"), cursor_id(position, "id")
        stmt = stmt.where(tuple_(EVENTS.c.occurred_at, EVENTS.c.id) < tuple_(_bind_at(at), last_id))
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor({"at": last["occurred_at"].isoformat(), "id": last["id"]})


def _bind_at(at: datetime) -> Any:
    from sqlalchemy import literal

    return literal(at, EVENTS.c.occurred_at.type)
