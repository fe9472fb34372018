"""Scheduled ledger sweeps: lots mature and expire on time, and customers hear of an expiry
before it happens (a `points_expiring` event that rules can turn into a reminder)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.db import session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.events.reactors import ReactorRegistry
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.runtime import current
from loyalty_engine.scheduler import JobSpec
from rewards import service
from rewards.models import LotStatus
from rewards.postings import ACCOUNTS, CUSTOMERS, LOTS

log = logging.getLogger(__name__)
EVENTS = Event.__table__  # type: ignore[attr-defined]
EXPIRING_EVENT = "points_expiring"
EVENT_SOURCE = "ledger"
NOTICE_BATCH = 500


def mature_and_expire() -> int:
    """Job: post the maturities and expiries that are due, a batch of accounts per transaction,
    until none is left. Each lot expires on its own: never the whole balance at once."""
    runtime = current()
    posted = 0
    for sweep in (service.mature_due, service.expire_due):
        while True:
            with session_scope(runtime.engine, write=True) as session:
                entries = sweep(session, now=runtime.clock.now())
            posted += len(entries)
            if not entries:
                break
    log.info("ledger: %d maturity and expiry entries posted", posted)
    return posted


def announce_expiring() -> int:
    """Job: a `points_expiring` event per lot expiring within the notice period (once per lot)."""
    runtime = current()
    notice = timedelta(days=runtime.settings.points_expiring_notice_days)
    announced = 0
    after_id: int | None = 0
    while after_id is not None:
        with session_scope(runtime.engine, write=True) as session:
            count, after_id = announce_expiring_lots(
                session,
                reactors=runtime.reactors,
                now=runtime.clock.now(),
                notice=notice,
                after_id=after_id,
            )
        announced += count
    log.info("ledger: %d expiring lots announced", announced)
    return announced


@dataclass(frozen=True, slots=True)
class ExpiringLot:
    lot_id: int
    customer: str
    unit: str
    remaining: int
    expires_at: datetime

    @property
    def key(self) -> str:
        return f"lot:{self.lot_id}:expiring"


def announce_expiring_lots(
    session: Session,
    *,
    reactors: ReactorRegistry,
    now: datetime,
    notice: timedelta,
    after_id: int = 0,
) -> tuple[int, int | None]:
    """Announce the not-yet-announced lots among the next batch (by lot id, after `after_id`)
    that expire within `notice`: how many, and where the next batch starts (None: no more).

    The events' idempotency keys name the lot, so a lot is announced once however often the
    sweep runs (the events table is the record of what was announced).
    """
    lots = _expiring(session, now=now, notice=notice, after_id=after_id)
    if not lots:
        return 0, None
    fresh = _not_announced(session, lots)
    events = [
        InternalEvent(
            EXPIRING_EVENT,
            lot.customer,
            {
                "unit": lot.unit,
                "amount": lot.remaining,
                "expires_at": lot.expires_at.isoformat(),
                "lot_id": lot.lot_id,
            },
            lot.key,
        )
        for lot in fresh
    ]
    ingest_internal(session, events=events, source=EVENT_SOURCE, reactors=reactors, now=now)
    return len(fresh), lots[-1].lot_id if len(lots) == NOTICE_BATCH else None


def _expiring(
    session: Session, *, now: datetime, notice: timedelta, after_id: int
) -> list[ExpiringLot]:
    stmt = (
        select(
            LOTS.c.id,
            CUSTOMERS.c.external_id,
            ACCOUNTS.c.unit,
            LOTS.c.remaining,
            LOTS.c.expires_at,
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == LOTS.c.account_id)
        .join(CUSTOMERS, CUSTOMERS.c.id == ACCOUNTS.c.customer_id)
        .where(
            LOTS.c.status == LotStatus.AVAILABLE,
            LOTS.c.remaining > 0,
            LOTS.c.expires_at > now,
            LOTS.c.expires_at <= now + notice,
            LOTS.c.id > after_id,
        )
        .order_by(LOTS.c.id)
        .limit(NOTICE_BATCH)
    )
    return [ExpiringLot(*row) for row in session.execute(stmt)]


def _not_announced(session: Session, lots: list[ExpiringLot]) -> list[ExpiringLot]:
    keys = [lot.key for lot in lots]
    done = set(
        session.execute(
            select(EVENTS.c.idempotency_key).where(
                EVENTS.c.source == EVENT_SOURCE, EVENTS.c.idempotency_key.in_(keys)
            )
        ).scalars()
    )
    return [lot for lot in lots if lot.key not in done]


REWARD_JOBS: list[JobSpec] = [
    JobSpec("ledger.mature_and_expire", "rewards.jobs:mature_and_expire", 300),
    JobSpec("ledger.announce_expiring", "rewards.jobs:announce_expiring", 3600),
]
