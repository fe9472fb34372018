"""Ledger test helpers: a customer to grant to, and short ways to read lots and entries."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, insert, select

from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.db import session_scope
from rewards.postings import ACCOUNTS, ENTRIES, LOTS
from tests.conftest import START

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]


def add_customer(engine: Engine, external_id: str, now: datetime = START) -> int:
    with session_scope(engine, write=True) as session:
        customer_id: int = session.execute(
            insert(CUSTOMERS)
            .values(
                external_id=external_id,
                custom_traits={},
                trait_times={},
                lifecycle_stage=LifecycleStage.AWARENESS,
                created_at=now,
                updated_at=now,
            )
            .returning(CUSTOMERS.c.id)
        ).scalar_one()
    return customer_id


@pytest.fixture
def customer_id(engine: Engine) -> int:
    return add_customer(engine, "acme")


def account_id(engine: Engine, customer_id: int, unit: str = "points") -> int:
    with session_scope(engine, write=False) as session:
        found: int = session.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.customer_id == customer_id, ACCOUNTS.c.unit == unit
            )
        ).scalar_one()
    return found


def lots(engine: Engine, account: int) -> dict[int, tuple[int, str]]:
    """Each lot's (remaining, status), by lot id."""
    with session_scope(engine, write=False) as session:
        rows = session.execute(
            select(LOTS.c.id, LOTS.c.remaining, LOTS.c.status).where(LOTS.c.account_id == account)
        )
        return {row.id: (row.remaining, row.status) for row in rows}


def entry_kinds(engine: Engine, account: int) -> list[tuple[str, int, int]]:
    """(kind, amount, pending_amount) of each entry, in order."""
    with session_scope(engine, write=False) as session:
        rows = session.execute(
            select(ENTRIES.c.kind, ENTRIES.c.amount, ENTRIES.c.pending_amount)
            .where(ENTRIES.c.account_id == account)
            .order_by(ENTRIES.c.id)
        )
        return [(row.kind, row.amount, row.pending_amount) for row in rows]
