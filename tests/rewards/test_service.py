"""The ledger through its service, on SQLite and PostgreSQL: grants, spends, expiry one lot at a
time, maturity, reversal policies, adjustments, idempotency keys, and what the database refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from loyalty_engine.clock import FrozenClock
from loyalty_engine.customers.errors import CustomerNotFound
from loyalty_engine.db import session_scope
from loyalty_engine.errors import ValidationFailed
from rewards import service
from rewards.errors import IdempotencyKeyReused, InsufficientBalance
from rewards.ledger import ReversalPolicy
from rewards.models import EntryKind, SourceKind
from rewards.postings import ALLOCATIONS, LOTS, PostedEntry
from tests.rewards.conftest import account_id, entry_kinds, lots

DAY = timedelta(days=1)


def grant(
    engine: Engine,
    customer: int,
    amount: int,
    now: datetime,
    *,
    ref: str = "ev-1",
    kind: SourceKind = SourceKind.RULE,
    matures_at: datetime | None = None,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> PostedEntry:
    with session_scope(engine, write=True) as session:
        return service.grant(
            session,
            customer_id=customer,
            unit="points",
            amount=amount,
            reason="test grant",
            source_kind=kind,
            source_ref=ref,
            now=now,
            matures_at=matures_at,
            expires_at=expires_at,
            idempotency_key=idempotency_key,
        )


def spend(
    engine: Engine, customer: int, amount: int, now: datetime, key: str | None = None
) -> PostedEntry:
    with session_scope(engine, write=True) as session:
        return service.spend(
            session,
            customer_id=customer,
            unit="points",
            amount=amount,
            reason="redeemed a reward",
            now=now,
            idempotency_key=key,
        )


def reverse(engine: Engine, ref: str, now: datetime, policy: ReversalPolicy) -> list[PostedEntry]:
    with session_scope(engine, write=True) as session:
        return service.reverse_source(
            session,
            source_kind=SourceKind.REFERRAL,
            source_ref=ref,
            reason="referral voided",
            now=now,
            policy=policy,
        )


def balance(engine: Engine, customer: int) -> tuple[int, int, int]:
    """(available, pending, debt), after proving the account's books balance."""
    with session_scope(engine, write=False) as session:
        found = service.balances(session, customer_id=customer)["points"]
        assert service.account_problems(session, account_id(engine, customer)) == []
    return found.available, found.pending, found.debt


def taken_by(engine: Engine, entry: PostedEntry) -> list[tuple[int, int]]:
    with session_scope(engine, write=False) as session:
        rows = session.execute(
            select(ALLOCATIONS.c.lot_id, ALLOCATIONS.c.amount)
            .where(ALLOCATIONS.c.entry_id == entry.id)
            .order_by(ALLOCATIONS.c.id)
        )
        return [(row.lot_id, row.amount) for row in rows]


def _id(lot_id: int | None) -> int:
    assert lot_id is not None
    return lot_id


def test_a_spend_takes_the_earliest_expiring_lots(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    a = grant(engine, customer_id, 100, now, expires_at=now + 30 * DAY)
    b = grant(engine, customer_id, 50, now)
    c = grant(engine, customer_id, 70, now, expires_at=now + 10 * DAY)
    spent = spend(engine, customer_id, 120, now)
    assert (spent.kind, spent.amount, spent.balance_after) == (EntryKind.SPEND, -120, 100)
    assert taken_by(engine, spent) == [(c.lot_id, 70), (a.lot_id, 50)]
    remaining = {lot: rem for lot, (rem, _) in lots(engine, a.account_id).items()}
    assert remaining == {a.lot_id: 50, b.lot_id: 50, c.lot_id: 0}
    assert balance(engine, customer_id) == (100, 0, 0)


def test_an_insufficient_balance_is_a_409_carrying_the_balance(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    with pytest.raises(InsufficientBalance) as nothing:
        spend(engine, customer_id, 1, clock.now())
    assert nothing.value.details == {"unit": "points", "available": 0, "requested": 1}
    grant(engine, customer_id, 10, clock.now())
    with pytest.raises(InsufficientBalance) as short:
        spend(engine, customer_id, 11, clock.now())
    assert (short.value.status_code, short.value.code) == (409, "insufficient_balance")
    assert short.value.details == {"unit": "points", "available": 10, "requested": 11}
    assert balance(engine, customer_id) == (10, 0, 0)
    assert [kind for kind, *_ in entry_kinds(engine, account_id(engine, customer_id))] == ["earn"]


def test_a_replayed_key_returns_the_original_entry_and_writes_nothing(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    first_grant = grant(engine, customer_id, 100, now, idempotency_key="grant-1")
    assert grant(engine, customer_id, 100, now, idempotency_key="grant-1").is_replay
    first = spend(engine, customer_id, 30, now, key="order-1")
    clock.advance(hours=1)
    again = spend(engine, customer_id, 30, clock.now(), key="order-1")
    assert (again.id, again.balance_after, again.is_replay) == (first.id, 70, True)
    assert not first.is_replay
    assert not first_grant.is_replay
    assert balance(engine, customer_id) == (70, 0, 0)
    with pytest.raises(IdempotencyKeyReused) as reused:
        spend(engine, customer_id, 31, clock.now(), key="order-1")
    assert (reused.value.status_code, reused.value.details) == (409, {"idempotency_key": "order-1"})
    with pytest.raises(IdempotencyKeyReused):
        grant(engine, customer_id, 100, now, idempotency_key="order-1")
    assert len(entry_kinds(engine, first.account_id)) == 2


def test_expiry_removes_what_remains_of_each_due_lot_one_at_a_time(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    early = grant(engine, customer_id, 40, now, expires_at=now + 10 * DAY)
    late = grant(engine, customer_id, 60, now, expires_at=now + 20 * DAY)
    spend(engine, customer_id, 10, now)
    with session_scope(engine, write=True) as session:
        assert service.expire_due(session, now=now + 9 * DAY) == []
        (expiry,) = service.expire_due(session, now=now + 10 * DAY)
        assert service.expire_due(session, now=now + 10 * DAY) == []
    assert (expiry.kind, expiry.lot_id, expiry.amount, expiry.balance_after) == (
        EntryKind.EXPIRE,
        early.lot_id,
        -30,
        60,
    )
    assert lots(engine, early.account_id) == {
        early.lot_id: (0, "expired"),
        late.lot_id: (60, "available"),
    }
    assert balance(engine, customer_id) == (60, 0, 0)
    with session_scope(engine, write=True) as session:
        (last,) = service.expire_due(session, now=now + 25 * DAY)
    assert (last.lot_id, last.amount) == (late.lot_id, -60)
    assert balance(engine, customer_id) == (0, 0, 0)


def test_a_write_expires_the_accounts_due_lots_before_it_spends(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    grant(engine, customer_id, 50, now, expires_at=now + DAY)
    kept = grant(engine, customer_id, 20, now)
    later = now + 2 * DAY  # no sweep has run
    with pytest.raises(InsufficientBalance) as short:
        spend(engine, customer_id, 30, later)
    assert short.value.details["available"] == 20
    spent = spend(engine, customer_id, 20, later)
    assert taken_by(engine, spent) == [(kept.lot_id, 20)]
    assert [kind for kind, *_ in entry_kinds(engine, kept.account_id)] == [
        "earn",
        "earn",
        "expire",
        "spend",
    ]


def test_a_held_grant_is_pending_until_it_matures(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    held = grant(engine, customer_id, 100, now, matures_at=now + 14 * DAY)
    assert (held.amount, held.pending_amount) == (0, 100)
    assert balance(engine, customer_id) == (0, 100, 0)
    with pytest.raises(InsufficientBalance):
        spend(engine, customer_id, 1, now + 13 * DAY)
    with session_scope(engine, write=True) as session:
        assert service.mature_due(session, now=now + 13 * DAY) == []
        (matured,) = service.mature_due(session, now=now + 14 * DAY)
    assert (matured.kind, matured.lot_id, matured.amount, matured.pending_amount) == (
        EntryKind.MATURE,
        held.lot_id,
        100,
        -100,
    )
    assert balance(engine, customer_id) == (100, 0, 0)


def test_reversing_an_unspent_grant_removes_it_once(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    voided = grant(engine, customer_id, 100, now, kind=SourceKind.REFERRAL, ref="ref-1")
    grant(engine, customer_id, 30, now, kind=SourceKind.REFERRAL, ref="ref-2")
    (entry,) = reverse(engine, "ref-1", now, ReversalPolicy.ALLOW_NEGATIVE)
    assert (entry.kind, entry.lot_id, entry.amount, entry.source_ref) == (
        EntryKind.REVERSE,
        voided.lot_id,
        -100,
        "ref-1",
    )
    assert reverse(engine, "ref-1", now, ReversalPolicy.ALLOW_NEGATIVE) == []
    assert balance(engine, customer_id) == (30, 0, 0)


def test_allow_negative_takes_back_what_was_spent_and_later_grants_repay_the_debt(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    grant(engine, customer_id, 100, now, kind=SourceKind.REFERRAL, ref="ref-1")
    spend(engine, customer_id, 80, now)
    (entry,) = reverse(engine, "ref-1", now, ReversalPolicy.ALLOW_NEGATIVE)
    assert (entry.amount, entry.balance_after, entry.unrecovered) == (-100, -80, 0)
    assert balance(engine, customer_id) == (-80, 0, 80)
    with pytest.raises(InsufficientBalance):
        spend(engine, customer_id, 1, now)
    small = grant(engine, customer_id, 50, now)
    assert lots(engine, small.account_id)[_id(small.lot_id)] == (0, "available")
    assert balance(engine, customer_id) == (-30, 0, 30)
    held = grant(engine, customer_id, 100, now, matures_at=now + DAY)
    assert balance(engine, customer_id) == (-30, 100, 30)  # pending points repay nothing yet
    with session_scope(engine, write=True) as session:
        service.mature_due(session, now=now + DAY)
    assert lots(engine, held.account_id)[_id(held.lot_id)] == (70, "available")
    assert balance(engine, customer_id) == (70, 0, 0)


def test_claw_back_to_zero_takes_what_the_balance_holds_and_records_the_rest(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    voided = grant(engine, customer_id, 100, now, kind=SourceKind.REFERRAL, ref="ref-1")
    other = grant(engine, customer_id, 30, now + DAY, kind=SourceKind.REFERRAL, ref="ref-2")
    spend(engine, customer_id, 110, now + DAY)  # all of ref-1, then 10 of ref-2
    (entry,) = reverse(engine, "ref-1", now + DAY, ReversalPolicy.CLAW_BACK_TO_ZERO)
    assert (entry.amount, entry.balance_after, entry.unrecovered) == (-20, 0, 80)
    assert taken_by(engine, entry) == [(other.lot_id, 20)]
    assert lots(engine, voided.account_id)[_id(voided.lot_id)] == (0, "reversed")
    assert balance(engine, customer_id) == (0, 0, 0)


def test_a_held_grant_reversed_before_it_matures_never_becomes_available(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    grant(engine, customer_id, 70, now, kind=SourceKind.REFERRAL, ref="ref-1", matures_at=now + DAY)
    (entry,) = reverse(engine, "ref-1", now, ReversalPolicy.CLAW_BACK_TO_ZERO)
    assert (entry.amount, entry.pending_amount, entry.pending_after) == (0, -70, 0)
    with session_scope(engine, write=True) as session:
        assert service.mature_due(session, now=now + 2 * DAY) == []
    assert balance(engine, customer_id) == (0, 0, 0)


def test_an_adjustment_adds_a_lot_or_consumes_lots(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()

    def adjust(amount: int, key: str) -> PostedEntry:
        with session_scope(engine, write=True) as session:
            return service.adjust(
                session,
                customer_id=customer_id,
                unit="points",
                amount=amount,
                reason="support goodwill",
                now=now,
                idempotency_key=key,
            )

    added = adjust(25, "adj-1")
    assert (added.kind, added.amount, added.source_kind, added.source_ref) == (
        EntryKind.ADJUST,
        25,
        "adjustment",
        "adj-1",
    )
    taken = adjust(-10, "adj-2")
    assert (taken.lot_id, taken.amount) == (None, -10)
    assert taken_by(engine, taken) == [(added.lot_id, 10)]
    with pytest.raises(InsufficientBalance):
        adjust(-16, "adj-3")
    with pytest.raises(ValidationFailed):
        adjust(0, "adj-4")
    assert balance(engine, customer_id) == (15, 0, 0)


def test_grants_are_checked_before_anything_is_written(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    now = clock.now()
    with pytest.raises(CustomerNotFound):
        grant(engine, customer_id + 1, 10, now)
    with pytest.raises(ValidationFailed):
        grant(engine, customer_id, 0, now)
    with pytest.raises(ValidationFailed):
        grant(engine, customer_id, 10, now, expires_at=now)
    with pytest.raises(ValidationFailed):
        grant(engine, customer_id, 10, now, matures_at=now + 2 * DAY, expires_at=now + DAY)
    with pytest.raises(ValidationFailed), session_scope(engine, write=True) as session:
        service.spend(
            session,
            customer_id=customer_id,
            unit="stars",
            amount=1,
            reason="x",
            now=now,
            idempotency_key=None,
        )
    with session_scope(engine, write=False) as session:
        assert service.balances(session, customer_id=customer_id) == {}


def test_the_database_refuses_a_lot_below_zero_and_a_reused_key(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    entry = grant(engine, customer_id, 10, clock.now(), idempotency_key="k")
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        session.execute(update(LOTS).where(LOTS.c.id == entry.lot_id).values(remaining=-1))
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        session.execute(update(LOTS).where(LOTS.c.id == entry.lot_id).values(remaining=11))
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        session.execute(
            text(
                "INSERT INTO ledger_entries (account_id, kind, amount, pending_amount, "
                "balance_after, pending_after, unrecovered, reason, idempotency_key, created_at) "
                "SELECT account_id, kind, 0, 0, 0, 0, 0, 'copy', idempotency_key, created_at "
                "FROM ledger_entries"
            )
        )


def test_check_account_notices_a_balance_row_out_of_step(
    engine: Engine, customer_id: int, clock: FrozenClock
) -> None:
    entry = grant(engine, customer_id, 10, clock.now())
    with session_scope(engine, write=True) as session:
        assert service.check_account(session, entry.account_id)
        session.execute(text("UPDATE ledger_accounts SET available = available + 1"))
        assert not service.check_account(session, entry.account_id)
        problems = service.account_problems(session, entry.account_id)
    assert "available = sum of entry amounts: 11 != 10" in problems
