"""Ledger facts for rule conditions: `customer.balances.<unit>` (available amounts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.models import LedgerAccount

ACCOUNTS = LedgerAccount.__table__  # type: ignore[attr-defined]


def balance_facts(session: Session, customers: dict[int, dict[str, Any]], _: datetime) -> None:
    """Current balances (a replay of the past still reads today's: the ledger is not versioned)."""
    for facts in customers.values():
        facts["balances"] = {}
    stmt = select(ACCOUNTS.c.customer_id, ACCOUNTS.c.unit, ACCOUNTS.c.available).where(
        ACCOUNTS.c.customer_id.in_(list(customers))
    )
    for customer_id, unit, available in session.execute(stmt):
        customers[customer_id]["balances"][unit] = int(available)
