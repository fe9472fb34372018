"""Ledger facts for rule conditions: `customer.balances.<unit>` (available amounts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards.models import LedgerAccount

ACCOUNTS = LedgerAccount.__table__  # type: ignore[attr-defined]


def balance_facts(session: Session, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {cid: {"balances": {}} for cid in customer_ids}
    stmt = select(ACCOUNTS.c.customer_id, ACCOUNTS.c.unit, ACCOUNTS.c.available).where(
        ACCOUNTS.c.customer_id.in_(customer_ids)
    )
    for customer_id, unit, available in session.execute(stmt):
        found[customer_id]["balances"][unit] = int(available)
    return found
