"""The ledger's scheduled sweeps, run as the scheduler runs them (the installed runtime, the
frozen clock): lots mature and expire one by one, and expiries are announced once, in advance."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.runtime import Runtime
from rewards import jobs, service
from rewards.models import SourceKind
from tests.rewards.conftest import add_customer

EVENTS = Event.__table__  # type: ignore[attr-defined]


def grant(
    runtime: Runtime,
    customer_id: int,
    amount: int,
    ref: str,
    *,
    expires_in: timedelta | None = None,
    hold: timedelta | None = None,
) -> None:
    now = runtime.clock.now()
    with session_scope(runtime.engine, write=True) as session:
        service.grant(
            session,
            customer_id=customer_id,
            unit="points",
            amount=amount,
            reason=ref,
            source_kind=SourceKind.RULE,
            source_ref=ref,
            now=now,
            expires_at=now + expires_in if expires_in else None,
            matures_at=now + hold if hold else None,
        )


def balance(runtime: Runtime, customer_id: int) -> tuple[int, int]:
    with session_scope(runtime.engine, write=False) as session:
        found = service.balances(session, customer_id=customer_id)["points"]
    return found.available, found.pending


def announced(runtime: Runtime) -> list[tuple[str, dict[str, object]]]:
    with session_scope(runtime.engine, write=False) as session:
        rows = session.execute(
            select(EVENTS.c.idempotency_key, EVENTS.c.properties)
            .where(EVENTS.c.type == "points_expiring")
            .order_by(EVENTS.c.id)
        ).all()
    return [(key, properties) for key, properties in rows]


def test_the_sweep_matures_held_lots_and_expires_each_lot_on_its_own_date(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    acme = add_customer(runtime.engine, "acme", clock.now())
    grant(runtime, acme, 100, "a", expires_in=timedelta(days=30))
    grant(runtime, acme, 50, "b", expires_in=timedelta(days=60))
    grant(runtime, acme, 20, "c", hold=timedelta(days=14))
    assert balance(runtime, acme) == (150, 20)

    clock.advance(timedelta(days=15))
    assert jobs.mature_and_expire() == 1  # c matures
    assert balance(runtime, acme) == (170, 0)

    clock.advance(timedelta(days=16))  # day 31: a expires, b does not
    assert jobs.mature_and_expire() == 1
    assert balance(runtime, acme) == (70, 0)
    assert jobs.mature_and_expire() == 0  # nothing twice

    clock.advance(timedelta(days=30))  # day 61: b expires
    assert jobs.mature_and_expire() == 1
    assert balance(runtime, acme) == (20, 0)


def test_expiring_lots_are_announced_once_within_the_notice_period(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    assert runtime.settings.points_expiring_notice_days == 14
    acme = add_customer(runtime.engine, "acme", clock.now())
    grant(runtime, acme, 100, "soon", expires_in=timedelta(days=10))
    grant(runtime, acme, 50, "later", expires_in=timedelta(days=40))
    grant(runtime, acme, 30, "never")
    grant(runtime, acme, 5, "spent", expires_in=timedelta(days=5))
    with session_scope(runtime.engine, write=True) as session:
        # 5 points spent: the earliest-expiring lot ("spent") is used up, nothing to announce.
        service.spend(
            session,
            customer_id=acme,
            unit="points",
            amount=5,
            reason="sticker",
            now=clock.now(),
            idempotency_key=None,
        )

    assert jobs.announce_expiring() == 1
    assert jobs.announce_expiring() == 0
    [(key, properties)] = announced(runtime)
    assert properties == {
        "unit": "points",
        "amount": 100,
        "expires_at": (clock.now() + timedelta(days=10)).isoformat(),
        "lot_id": properties["lot_id"],
    }
    assert key == f"lot:{properties['lot_id']}:expiring"

    clock.advance(timedelta(days=27))  # "later" now expires in 13 days
    assert jobs.announce_expiring() == 1
    assert [p["amount"] for _, p in announced(runtime)] == [100, 50]


def test_announcing_continues_past_a_full_batch(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    acme = add_customer(runtime.engine, "acme", clock.now())
    lots = jobs.NOTICE_BATCH + 3
    now = clock.now()
    with session_scope(runtime.engine, write=True) as session:
        for i in range(lots):
            service.grant(
                session,
                customer_id=acme,
                unit="points",
                amount=1,
                reason="drip",
                source_kind=SourceKind.RULE,
                source_ref=f"drip-{i}",
                now=now,
                expires_at=now + timedelta(days=7),
            )

    assert jobs.announce_expiring() == lots
    assert jobs.announce_expiring() == 0
    assert len(announced(runtime)) == lots


def test_the_scheduler_runs_the_ledger_sweeps() -> None:
    from loyalty_engine.app import JOBS

    by_id = {job.id: job.func for job in JOBS}
    assert by_id["ledger.mature_and_expire"] == "rewards.jobs:mature_and_expire"
    assert by_id["ledger.announce_expiring"] == "rewards.jobs:announce_expiring"
