"""Outbox use cases: enqueue in the caller's transaction, claim due messages, record outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.db import insert_ignore
from loyalty_engine.outbox.delivery import Delivery
from loyalty_engine.outbox.errors import OutboxMessageNotDead, OutboxMessageNotFound
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
MAX_ERROR_CHARS = 2_000


def enqueue(
    session: Session,
    *,
    kind: str,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
    customer_id: int | None = None,
    deliver_at: datetime | None = None,
) -> bool:
    """Add a message in the caller's transaction; False when the key is already queued (no-op)."""
    stmt = (
        insert_ignore(OUTBOX, session.get_bind().dialect.name)
        .values(
            kind=kind,
            idempotency_key=idempotency_key,
            payload=payload,
            customer_id=customer_id,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=deliver_at or now,
            created_at=now,
        )
        .returning(OUTBOX.c.id)
    )
    # A row comes back only when one was inserted. Not `rowcount`: on PostgreSQL SQLAlchemy adds
    # an implicit RETURNING for the primary key and then reports -1, which reads as "queued".
    return session.execute(stmt).first() is not None


def claim_due(
    session: Session, *, now: datetime, worker_id: str, limit: int, lease: timedelta
) -> list[Delivery]:
    """Take up to `limit` due messages for this worker until `now + lease`.

    PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent workers claim disjoint rows.
    SQLite: the caller's BEGIN IMMEDIATE makes the claim the only writer, which is as good.
    """
    due = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.status == OutboxStatus.PENDING,
            OUTBOX.c.next_attempt_at <= now,
            or_(OUTBOX.c.locked_until.is_(None), OUTBOX.c.locked_until <= now),
        )
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    claimed = session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(ids))
        .values(locked_until=now + lease, locked_by=worker_id, attempts=OUTBOX.c.attempts + 1)
        .returning(
            OUTBOX.c.id,
            OUTBOX.c.kind,
            OUTBOX.c.idempotency_key,
            OUTBOX.c.payload,
            OUTBOX.c.attempts,
        )
    )
    return sorted((Delivery(*row) for row in claimed), key=lambda d: ids.index(d.message_id))


def record_delivered(
    session: Session,
    *,
    message_id: int,
    worker_id: str,
    now: datetime,
    result: dict[str, Any] | None,
) -> None:
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == message_id, OUTBOX.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.DELIVERED,
            delivered_at=now,
            result=result,
            last_error=None,
            locked_until=None,
            locked_by=worker_id,
        )
    )


def record_failure(
    session: Session, *, message_id: int, worker_id: str, error: str, retry_at: datetime | None
) -> None:
    """Schedule a retry at `retry_at`, or dead-letter the message when it is None.

    Only the worker that still holds the claim may do so: a worker whose lease lapsed (and whose
    message another worker has claimed since) must not reschedule or bury that worker's attempt.
    A success, by contrast, is recorded whoever reports it: the effect has happened.
    """
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR_CHARS], "locked_until": None}
    if retry_at is None:
        values["status"] = OutboxStatus.DEAD
    else:
        values["next_attempt_at"] = retry_at
    session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.id == message_id,
            OUTBOX.c.status == OutboxStatus.PENDING,
            OUTBOX.c.locked_by == worker_id,
        )
        .values(**values)
    )


def release(
    session: Session, *, message_id: int, worker_id: str, retry_at: datetime, reason: str
) -> None:
    """Give a claimed message back without counting the attempt (the receiver refused us all)."""
    session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.id == message_id,
            OUTBOX.c.status == OutboxStatus.PENDING,
            OUTBOX.c.locked_by == worker_id,
        )
        .values(
            locked_until=None,
            next_attempt_at=retry_at,
            attempts=OUTBOX.c.attempts - 1,
            last_error=reason[:MAX_ERROR_CHARS],
        )
    )


def retry_dead(session: Session, *, message_ids: Sequence[int] | None, now: datetime) -> int:
    """Requeue dead messages with a fresh attempt count (all of them when ids is None)."""
    stmt = update(OUTBOX).where(OUTBOX.c.status == OutboxStatus.DEAD)
    if message_ids is not None:
        stmt = stmt.where(OUTBOX.c.id.in_(list(message_ids)))
    stmt = stmt.values(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, locked_until=None
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def retry_one(session: Session, *, message_id: int, now: datetime) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise OutboxMessageNotFound(f"no outbox message {message_id}")
    if message.status != OutboxStatus.DEAD:
        raise OutboxMessageNotDead(
            f"outbox message {message_id} is {message.status}, only dead messages are retried",
            details={"status": message.status},
        )
    retry_dead(session, message_ids=[message_id], now=now)
    session.refresh(message)
    return message


def list_messages(
    session: Session,
    *,
    status: OutboxStatus | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OutboxMessage], str | None]:
    """Newest first."""
    stmt = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(col(OutboxMessage.status) == status)
    if kind is not None:
        stmt = stmt.where(col(OutboxMessage.kind) == kind)
    if cursor is not None:
        before = cursor_id(decode_cursor(cursor, ("before",)), "before")
        stmt = stmt.where(col(OutboxMessage.id) < before)
    rows = list(session.execute(stmt).scalars())
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor({"before": rows[limit - 1].id})


def purge_delivered(session: Session, *, before: datetime) -> int:
    stmt = delete(OUTBOX).where(
        OUTBOX.c.status == OutboxStatus.DELIVERED, OUTBOX.c.delivered_at < before
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def counts_by_status(session: Session) -> dict[str, int]:
    stmt = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
    counts = dict.fromkeys((s.value for s in OutboxStatus), 0)
    counts.update({status: int(n) for status, n in session.execute(stmt)})
    return counts
