"""Random sequences of earn, hold, mature, spend, expire, reverse, adjust and replays, with a
moving clock, through the service on a real database: the books always balance."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, Row, func, select
from sqlalchemy.orm import Session

from loyalty_engine.db import session_scope
from rewards import service
from rewards.errors import InsufficientBalance
from rewards.ledger import ReversalPolicy
from rewards.models import EntryKind, LotStatus, SourceKind
from rewards.postings import ACCOUNTS, ALLOCATIONS, ENTRIES, LOTS, PostedEntry
from tests.conftest import START
from tests.rewards.conftest import add_customer

DAY = timedelta(days=1)
# SQLite gets the full budget; PostgreSQL, several times slower per step, a shorter pass that still
# runs every rule against its dialect.
RUNS = {
    "sqlite": settings(max_examples=40, stateful_step_count=30, deadline=None),
    "postgresql": settings(max_examples=10, stateful_step_count=30, deadline=None),
}
_customers = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    """One customer's points account. The machine tallies what it granted and spent; the
    database must account for all of it as spent, expired, reversed or outstanding."""

    sources = Bundle("sources")

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.customer = add_customer(engine, f"machine-{next(_customers)}")
        self.now = START
        self.granted = 0
        self.spent = 0
        self.names = (f"c{self.customer}-{n}" for n in itertools.count())  # keys are global
        self.spends: list[tuple[str, int, PostedEntry]] = []

    # --- rules ---

    @initialize(target=sources, amount=st.integers(1, 100))
    def first_grant(self, amount: int) -> str:
        source = next(self.names)
        self._grant(source, amount)
        return source

    @rule(target=sources, amount=st.integers(1, 100), expires=st.none() | st.integers(1, 20))
    def earn(self, amount: int, expires: int | None) -> str:
        source = next(self.names)
        self._grant(source, amount, expires_at=self._days(expires))
        return source

    @rule(
        target=sources,
        amount=st.integers(1, 100),
        hold=st.integers(1, 30),
        expires=st.none() | st.integers(1, 20),
    )
    def hold(self, amount: int, hold: int, expires: int | None) -> str:
        source = next(self.names)
        expires_at = None if expires is None else self.now + (hold + expires) * DAY
        self._grant(source, amount, matures_at=self.now + hold * DAY, expires_at=expires_at)
        return source

    @rule(source=sources, amount=st.integers(1, 100))
    def earn_again_from_a_source(self, source: str, amount: int) -> None:
        self._grant(source, amount)

    @rule(days=st.integers(0, 7), hours=st.integers(0, 23))
    def advance_clock(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)

    @rule()
    def mature(self) -> None:
        with session_scope(self.engine, write=True) as session:
            for entry in service.mature_due(session, now=self.now):
                assert entry.kind == EntryKind.MATURE
                assert entry.amount == -entry.pending_amount >= 0

    @rule()
    def expire(self) -> None:
        with session_scope(self.engine, write=True) as session:
            service.expire_due(session, now=self.now)
        with session_scope(self.engine, write=False) as session:
            overdue = session.execute(
                select(func.count()).where(
                    LOTS.c.account_id.in_(
                        select(ACCOUNTS.c.id).where(ACCOUNTS.c.customer_id == self.customer)
                    ),
                    LOTS.c.expires_at <= self.now,
                    LOTS.c.remaining > 0,
                    LOTS.c.status != LotStatus.REVERSED,
                )
            ).scalar_one()
        assert overdue == 0

    @rule(amount=st.integers(1, 60))
    def spend(self, amount: int) -> None:
        key = next(self.names)
        try:
            entry = self._spend(key, amount)
        except InsufficientBalance as exc:
            _assert_short(exc, amount)
            return
        self.spent += amount
        self.spends.append((key, amount, entry))
        self._assert_earliest_expiring_first(entry)

    @rule()
    def spend_everything(self) -> None:
        """Empty the balance, so that later reversals have spent points to take back."""
        with session_scope(self.engine, write=False) as session:
            found = service.balances(session, customer_id=self.customer).get("points")
        if found is not None and found.available > 0:
            self.spend(found.available)

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def replay_a_spend(self, data: st.DataObject) -> None:
        key, amount, original = data.draw(st.sampled_from(self.spends))
        replay = self._spend(key, amount)
        assert replay.is_replay
        assert (replay.id, replay.balance_after) == (original.id, original.balance_after)

    @rule(source=sources, policy=st.sampled_from(ReversalPolicy))
    def reverse(self, source: str, policy: ReversalPolicy) -> None:
        with session_scope(self.engine, write=True) as session:
            entries = service.reverse_source(
                session,
                source_kind=SourceKind.REFERRAL,
                source_ref=source,
                reason="voided",
                now=self.now,
                policy=policy,
            )
        for entry in entries:
            assert entry.amount <= 0
            assert entry.pending_amount <= 0
            if policy is ReversalPolicy.CLAW_BACK_TO_ZERO:
                assert entry.balance_after >= 0 or entry.amount == 0
        self._assert_source_undone(source)

    @rule(amount=st.integers(-100, 100).filter(bool))
    def adjust(self, amount: int) -> None:
        try:
            with session_scope(self.engine, write=True) as session:
                service.adjust(
                    session,
                    customer_id=self.customer,
                    unit="points",
                    amount=amount,
                    reason="correction",
                    now=self.now,
                    idempotency_key=next(self.names),
                )
        except InsufficientBalance:
            assert amount < 0
            return
        if amount > 0:
            self.granted += amount
        else:
            self.spent -= amount

    # --- invariants ---

    @invariant()
    def books_balance(self) -> None:
        with session_scope(self.engine, write=False) as session:
            found = service.balances(session, customer_id=self.customer).get("points")
            if found is None:
                assert self.granted == self.spent == 0
                return
            account_id = self._account_id(session)
            assert service.account_problems(session, account_id) == []
            lowest = session.execute(
                select(func.min(LOTS.c.remaining)).where(LOTS.c.account_id == account_id)
            ).scalar_one()
            removed: dict[str, int] = dict(
                session.execute(
                    select(ENTRIES.c.kind, -func.sum(ENTRIES.c.amount + ENTRIES.c.pending_amount))
                    .where(ENTRIES.c.account_id == account_id)
                    .where(ENTRIES.c.kind.in_([EntryKind.EXPIRE, EntryKind.REVERSE]))
                    .group_by(ENTRIES.c.kind)
                ).all()
            )
        assert lowest >= 0
        expired = removed.get(EntryKind.EXPIRE, 0)
        reversed_ = removed.get(EntryKind.REVERSE, 0)
        outstanding = found.available + found.pending
        assert self.granted == self.spent + expired + reversed_ + outstanding

    # --- helpers ---

    def _grant(
        self,
        source: str,
        amount: int,
        *,
        matures_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        with session_scope(self.engine, write=True) as session:
            service.grant(
                session,
                customer_id=self.customer,
                unit="points",
                amount=amount,
                reason="test",
                source_kind=SourceKind.REFERRAL,
                source_ref=source,
                now=self.now,
                matures_at=matures_at,
                expires_at=expires_at,
            )
        self.granted += amount

    def _spend(self, key: str, amount: int) -> PostedEntry:
        with session_scope(self.engine, write=True) as session:
            return service.spend(
                session,
                customer_id=self.customer,
                unit="points",
                amount=amount,
                reason="reward",
                now=self.now,
                idempotency_key=key,
            )

    def _days(self, days: int | None) -> datetime | None:
        return None if days is None else self.now + days * DAY

    def _account_id(self, session: Session) -> int:
        found: int = session.execute(
            select(ACCOUNTS.c.id).where(ACCOUNTS.c.customer_id == self.customer)
        ).scalar_one()
        return found

    def _assert_source_undone(self, source: str) -> None:
        """All the source granted, less what expired, was taken back or recorded as unrecovered."""
        removed = -(ENTRIES.c.amount + ENTRIES.c.pending_amount)
        source_lots = select(LOTS.c.id).where(LOTS.c.source_ref == source)
        with session_scope(self.engine, write=False) as session:
            granted = session.execute(
                select(func.sum(LOTS.c.amount)).where(LOTS.c.source_ref == source)
            ).scalar_one()
            expired = session.execute(
                select(func.coalesce(func.sum(removed), 0)).where(
                    ENTRIES.c.kind == EntryKind.EXPIRE, ENTRIES.c.lot_id.in_(source_lots)
                )
            ).scalar_one()
            undone = session.execute(
                select(func.sum(removed + ENTRIES.c.unrecovered)).where(
                    ENTRIES.c.kind == EntryKind.REVERSE, ENTRIES.c.source_ref == source
                )
            ).scalar_one()
        assert (undone or 0) == granted - expired

    def _assert_earliest_expiring_first(self, entry: PostedEntry) -> None:
        """The spend emptied the spendable lots in expiry order (never-expiring last, then oldest
        first) and took from no lot while an earlier one still held points."""
        with session_scope(self.engine, write=False) as session:
            taken: dict[int, int] = dict(
                session.execute(
                    select(ALLOCATIONS.c.lot_id, ALLOCATIONS.c.amount).where(
                        ALLOCATIONS.c.entry_id == entry.id
                    )
                ).all()
            )
            lots = session.execute(
                select(LOTS).where(
                    LOTS.c.account_id == entry.account_id,
                    LOTS.c.status == LotStatus.AVAILABLE,
                )
            ).all()
        spendable = [
            lot
            for lot in lots
            if (lot.expires_at is None or lot.expires_at > self.now)
            and lot.remaining + taken.get(lot.id, 0) > 0
        ]
        spendable.sort(key=_spend_order)
        touched = [lot for lot in spendable if lot.id in taken]
        assert set(taken) == {lot.id for lot in touched}
        assert [lot.id for lot in touched] == [lot.id for lot in spendable[: len(touched)]]
        assert all(lot.remaining == 0 for lot in touched[:-1])


def _assert_short(refusal: InsufficientBalance, amount: int) -> None:
    assert refusal.details["available"] < amount


def _spend_order(lot: Row[Any]) -> tuple[bool, datetime, datetime, int]:
    """Written out here rather than imported: the test states the order it expects."""
    return (lot.expires_at is None, lot.expires_at or lot.created_at, lot.created_at, lot.id)


def test_the_books_balance_through_random_histories(engine: Engine) -> None:
    # Any factory will do (the stub says a class): each run gets the test's engine.
    machine = lambda: LedgerMachine(engine)  # noqa: E731
    run_state_machine_as_test(machine, settings=RUNS[engine.dialect.name])  # type: ignore[arg-type]
