"""Inbox use cases: store a verified event once, claim due events, process each in its own
transaction (retried with backoff when processing fails), and requeue events that waited for a
customer link."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty_engine.billing.inbox import handlers
from loyalty_engine.billing.inbox.models import InboxStatus, StripeWebhookEvent
from loyalty_engine.db import insert_ignore, session_scope
from loyalty_engine.errors import BadRequest
from loyalty_engine.outbox.backoff import backoff_seconds
from loyalty_engine.runtime import Runtime

log = logging.getLogger(__name__)
INBOX = StripeWebhookEvent.__table__  # type: ignore[attr-defined]
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=2)  # a claimed event is another worker's again after this
DUE = (InboxStatus.PENDING, InboxStatus.FAILED)


class PayloadInvalid(BadRequest):
    code = "payload_invalid"


@dataclass
class InboxReport:
    claimed: int = 0
    processed: int = 0
    ignored: int = 0
    unlinked: int = 0
    failed: int = 0


def store(session: Session, event: Mapping[str, Any], *, now: datetime) -> bool:
    """Keep a verified event once by its Stripe id; False when it was already stored."""
    event_id, type_, created = event.get("id"), event.get("type"), event.get("created")
    if not (isinstance(event_id, str) and event_id.startswith("evt_")):
        raise PayloadInvalid("the payload is not a Stripe event: `id` must be evt_...")
    if not isinstance(type_, str) or not type_:
        raise PayloadInvalid("the Stripe event has no `type`")
    if not isinstance(created, int) or isinstance(created, bool):
        raise PayloadInvalid("the Stripe event's `created` must be a unix timestamp")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        raise PayloadInvalid("the Stripe event has no `data.object`")
    stmt = (
        insert_ignore(INBOX, session.get_bind().dialect.name)
        .values(
            stripe_event_id=event_id,
            type=type_,
            stripe_created_at=datetime.fromtimestamp(created, UTC),
            stripe_customer_id=handlers.stripe_customer_of(event),
            livemode=bool(event.get("livemode")),
            payload=dict(event),
            status=InboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
        .returning(INBOX.c.id)
    )
    return session.execute(stmt).first() is not None


def claim_due(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Due events in Stripe's order, leased to this caller (SKIP LOCKED on PostgreSQL)."""
    ids = list(
        session.execute(
            select(INBOX.c.id)
            .where(INBOX.c.status.in_(DUE), INBOX.c.next_attempt_at <= now)
            .order_by(INBOX.c.stripe_created_at, INBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if ids:
        session.execute(
            update(INBOX)
            .where(INBOX.c.id.in_(ids))
            .values(next_attempt_at=now + LEASE, attempts=INBOX.c.attempts + 1)
        )
    return ids


def process_pending(
    runtime: Runtime, *, limit: int = 200, rng: random.Random | None = None
) -> InboxReport:
    """Process every due event (batch after batch); safe in any number of processes."""
    report = InboxReport()
    while True:
        now = runtime.clock.now()
        with session_scope(runtime.engine, write=True) as session:
            ids = claim_due(session, now=now, limit=limit)
        report.claimed += len(ids)
        for event_id in ids:
            status = _process_one(runtime, event_id, rng or random.Random())
            if status == InboxStatus.PROCESSED:
                report.processed += 1
            elif status == InboxStatus.IGNORED:
                report.ignored += 1
            elif status == InboxStatus.UNLINKED:
                report.unlinked += 1
            else:
                report.failed += 1
        if not ids:  # events requeued by a link made in this run are taken at once too
            return report


def _process_one(runtime: Runtime, event_id: int, rng: random.Random) -> InboxStatus:
    now = runtime.clock.now()
    ctx = handlers.Context(reactors=runtime.reactors, now=now)
    try:
        with session_scope(runtime.engine, write=True) as session:
            row = session.execute(
                select(INBOX.c.payload, INBOX.c.status).where(INBOX.c.id == event_id)
            ).one()
            if row.status not in DUE:
                return InboxStatus(row.status)
            outcome = handlers.handle(session, ctx, row.payload)
            session.execute(
                update(INBOX)
                .where(INBOX.c.id == event_id)
                .values(
                    status=outcome.status,
                    result=outcome.result,
                    last_error=None,
                    processed_at=now,
                    next_attempt_at=now,
                )
            )
            for billing_id in ctx.linked:
                requeue_unlinked(session, stripe_customer_id=billing_id, now=now)
            return outcome.status
    except Exception as exc:  # a failed event waits and is tried again; the others go on
        log.exception("stripe webhook event %s failed", event_id)
        with session_scope(runtime.engine, write=True) as session:
            attempts = session.execute(
                select(INBOX.c.attempts).where(INBOX.c.id == event_id)
            ).scalar_one()
            dead = attempts >= MAX_ATTEMPTS
            delay = backoff_seconds(attempts, base=5.0, cap=3_600.0, rng=rng)
            session.execute(
                update(INBOX)
                .where(INBOX.c.id == event_id)
                .values(
                    status=InboxStatus.DEAD if dead else InboxStatus.FAILED,
                    last_error=f"{type(exc).__name__}: {exc}"[:2_000],
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )
        return InboxStatus.FAILED


def requeue_unlinked(session: Session, *, stripe_customer_id: str, now: datetime) -> int:
    """Events that waited for this Stripe customer to be linked are due again."""
    result = session.execute(
        update(INBOX)
        .where(
            INBOX.c.stripe_customer_id == stripe_customer_id,
            INBOX.c.status == InboxStatus.UNLINKED,
        )
        .values(status=InboxStatus.PENDING, next_attempt_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
