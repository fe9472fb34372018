"""HTTP for events: batch ingest (the one door for product and CRM events) and listings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from loyalty_engine.customers import service as customers
from loyalty_engine.db import session_scope
from loyalty_engine.events import service
from loyalty_engine.events.batch import parse_batch
from loyalty_engine.events.schemas import EventIn, EventPage, EventRead, IngestResult
from loyalty_engine.events.service import IngestLimits, Result
from loyalty_engine.http import RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.metrics import EVENTS_INGESTED
from loyalty_engine.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["events"])
BATCH_SCHEMA = {"$ref": "#/components/schemas/EventBatchIn"}


@router.post(
    "/events",
    response_model=IngestResult,
    responses=errors(400, 413, 422),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}
    },
)
async def ingest_events(request: Request, runtime: RuntimeDep) -> Response:
    """Ingest up to 1,000 events. Each gets an outcome: `accepted`, `duplicate` (its idempotency
    key was seen before; nothing new is stored) or `rejected` (with the reason and JSON path)."""
    body = await request.body()
    # Parsing, validation and storage share one trip to the thread pool: none of it on the loop.
    return Response(
        await run_in_threadpool(ingest_body, runtime, body), media_type="application/json"
    )


def ingest_body(runtime: Runtime, body: bytes) -> bytes:
    valid, invalid = parse_batch(body, max_events=runtime.settings.max_batch_events)
    stored = ingest_batch(runtime, valid) if valid else []
    return orjson.dumps(summarize(sorted(invalid + stored, key=lambda r: r.index)))


def ingest_batch(runtime: Runtime, events: list[tuple[int, EventIn]]) -> list[Result]:
    """One write transaction for the whole batch."""
    settings = runtime.settings
    limits = IngestLimits(
        future_tolerance=timedelta(seconds=settings.event_future_tolerance_seconds),
        max_properties_bytes=settings.max_event_properties_bytes,
    )
    with session_scope(runtime.engine, write=True) as session:
        return service.ingest(
            session,
            events=events,
            reactors=runtime.reactors,
            limits=limits,
            now=runtime.clock.now(),
        )


def summarize(results: list[Result]) -> dict[str, object]:
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result.status.value] += 1
    for status, n in counts.items():
        if n:
            EVENTS_INGESTED.labels(outcome=status).inc(n)
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": [r.as_dict() for r in results],
    }


@router.get("/events", response_model=EventPage, responses=errors(422))
def list_events(
    uow: UnitOfWorkDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: AwareDatetime | None = None,
    occurred_to: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    """Events of every customer, newest first."""
    with uow() as session:
        return _page(session, None, type, occurred_from, occurred_to, cursor, limit)


@router.get("/customers/{external_id}/events", response_model=EventPage, responses=errors(404, 422))
def list_customer_events(
    external_id: str,
    uow: UnitOfWorkDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: AwareDatetime | None = None,
    occurred_to: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    """One customer's events, newest first."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        return _page(session, customer.id, type, occurred_from, occurred_to, cursor, limit)


def _page(
    session: Session,
    customer_id: int | None,
    event_type: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> EventPage:
    rows, next_cursor = service.list_events(
        session,
        customer_id=customer_id,
        event_type=event_type,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        cursor=cursor,
        limit=limit,
    )
    data = [EventRead.model_validate({**r, "customer_id": r["customer_external_id"]}) for r in rows]
    return EventPage(data=data, next_cursor=next_cursor)
