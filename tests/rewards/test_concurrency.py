"""Concurrent redemptions against one balance, each in its own transaction, on SQLite and
PostgreSQL: no overspend, no crash, and idempotency-key replays spend once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from rewards import service
from rewards.errors import InsufficientBalance
from rewards.models import EntryKind, SourceKind
from rewards.postings import ENTRIES
from tests.rewards.conftest import account_id

REQUESTS = 200


def _fund(engine: Engine, customer_id: int, clock: FrozenClock, amount: int) -> None:
    with session_scope(engine, write=True) as session:
        service.grant(
            session,
            customer_id=customer_id,
            unit="points",
            amount=amount,
            reason="welcome bonus",
            source_kind=SourceKind.RULE,
            source_ref="signup",
            now=clock.now(),
        )


def _redeem_all(engine: Engine, customer_id: int, clock: FrozenClock, keys: list[str | None]):  # type: ignore[no-untyped-def]
    """Spend 1 point per key, all at once; each call's outcome (an entry id or an error code)."""
    start = threading.Barrier(len(keys))

    def redeem(key: str | None) -> tuple[str | None, int | str]:
        start.wait()
        try:
            with session_scope(engine, write=True) as session:
                entry = service.spend(
                    session,
                    customer_id=customer_id,
                    unit="points",
                    amount=1,
                    reason="sticker",
                    now=clock.now(),
                    idempotency_key=key,
                )
            return key, entry.id
        except InsufficientBalance as exc:
            return key, exc.code
        except Exception as exc:  # any other outcome is a failure the assertions report
            return key, repr(exc)

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(redeem, keys))


def _spend_entries(engine: Engine, account: int) -> int:
    with session_scope(engine, write=False) as session:
        count: int = session.execute(
            select(func.count()).where(
                ENTRIES.c.account_id == account, ENTRIES.c.kind == EntryKind.SPEND
            )
        ).scalar_one()
    return count


def _final_balance(engine: Engine, customer_id: int) -> int:
    with session_scope(engine, write=False) as session:
        assert service.check_account(session, account_id(engine, customer_id))
        return service.balances(session, customer_id=customer_id)["points"].available


def test_200_concurrent_redemptions_of_a_100_point_balance(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    _fund(engine, customer_id, clock, 100)
    outcomes = _redeem_all(engine, customer_id, clock, [None] * REQUESTS)
    kinds = Counter("spent" if isinstance(o, int) else o for _, o in outcomes)
    assert kinds == {"spent": 100, "insufficient_balance": 100}
    assert _final_balance(engine, customer_id) == 0
    assert _spend_entries(engine, account_id(engine, customer_id)) == 100


def test_concurrent_replays_of_one_key_spend_once(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    """100 keys, each sent twice at once, against 60 points: 60 keys spend (both of their calls
    get the same entry), 40 keys are refused both times."""
    _fund(engine, customer_id, clock, 60)
    keys: list[str | None] = [f"order-{i % (REQUESTS // 2)}" for i in range(REQUESTS)]
    outcomes = _redeem_all(engine, customer_id, clock, keys)
    by_key: dict[str | None, set[int | str]] = {}
    for key, outcome in outcomes:
        by_key.setdefault(key, set()).add(outcome)
    assert all(len(seen) == 1 for seen in by_key.values()), by_key
    results = Counter("spent" if isinstance(o, int) else o for (o,) in by_key.values())
    assert results == {"spent": 60, "insufficient_balance": 40}
    assert _final_balance(engine, customer_id) == 0
    assert _spend_entries(engine, account_id(engine, customer_id)) == 60
