"""Accounts remember when their next lot matures or expires: writes before then skip the lot
queries, writes after it catch up first, and the date moves on to the next lot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, event, select, update

from loyalty_engine.db import session_scope
from rewards import service
from rewards.models import LedgerAccount
from rewards.postings import ACCOUNTS
from tests.conftest import START
from tests.rewards.conftest import account_id
from tests.rewards.test_service import DAY, grant, spend


def next_due(engine: Engine, account: int) -> datetime | None:
    with session_scope(engine, write=False) as session:
        return session.execute(  # type: ignore[no-any-return]
            select(LedgerAccount.next_due_at).where(LedgerAccount.id == account)  # type: ignore[arg-type]
        ).scalar_one()


def lot_queries(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def spy(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "ledger_lots" in statement:
            seen.append(statement)

    return seen


def test_the_next_due_date_follows_holds_and_expiries(engine: Engine, customer_id: int) -> None:
    grant(engine, customer_id, 100, START)  # no dates: nothing ever due
    account = account_id(engine, customer_id)
    assert next_due(engine, account) is None
    grant(engine, customer_id, 50, START, ref="b", expires_at=START + 30 * DAY)
    grant(engine, customer_id, 20, START, ref="c", matures_at=START + 10 * DAY)
    assert next_due(engine, account) == START + 10 * DAY
    grant(engine, customer_id, 5, START + 11 * DAY, ref="d")  # catches up: the hold is over
    with session_scope(engine, write=False) as session:
        balance = service.balances(session, customer_id=customer_id)["points"]
    assert (balance.available, balance.pending) == (175, 0)
    assert next_due(engine, account) == START + 30 * DAY
    spend(engine, customer_id, 10, START + 31 * DAY, key="s1")  # the 50 expire first
    with session_scope(engine, write=False) as session:
        assert service.balances(session, customer_id=customer_id)["points"].available == 115
    assert next_due(engine, account) is None


def test_a_write_before_anything_is_due_reads_no_lots_for_the_catch_up(
    engine: Engine, customer_id: int
) -> None:
    grant(engine, customer_id, 100, START, expires_at=START + 30 * DAY)
    seen = lot_queries(engine)
    grant(engine, customer_id, 10, START + DAY, ref="b")
    assert seen == []
    spend(engine, customer_id, 10, START + 31 * DAY, key="late")  # due: it looks, and expires
    assert seen != []


def test_an_account_from_before_the_column_is_caught_up_on_its_next_write(
    engine: Engine, customer_id: int
) -> None:
    grant(engine, customer_id, 100, START, expires_at=START + 3 * DAY)
    account = account_id(engine, customer_id)
    with session_scope(engine, write=True) as session:  # as the migration leaves old rows
        session.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == account).values(next_due_at=START - DAY)
        )
    grant(engine, customer_id, 1, START + DAY, ref="b")
    assert next_due(engine, account) == START + 3 * DAY
