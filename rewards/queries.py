"""Ledger reads for the API: balances with what expires soon, and the ledger page by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from loyalty_engine.customers.errors import CustomerNotFound
from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor
from rewards.models import LotStatus
from rewards.postings import ACCOUNTS, CUSTOMERS, ENTRIES, LOTS


@dataclass(frozen=True, slots=True)
class BalanceSummary:
    unit: str
    available: int
    pending: int
    debt: int
    expiring_soon: int
    next_expiry_at: datetime | None
    next_expiry_amount: int


def _balances_statement() -> Any:
    """Built once (balance reads are a hot path): each account of a customer with the available
    amount expiring by `soon` and the earliest expiry after `now` with the amount it removes."""
    lots, nxt = LOTS.alias("l"), LOTS.alias("n")
    open_lot = (
        lots.c.account_id == ACCOUNTS.c.id,
        lots.c.status == LotStatus.AVAILABLE,
        lots.c.remaining > 0,
        lots.c.expires_at.is_not(None),
    )
    next_at = (
        select(func.min(lots.c.expires_at))
        .where(*open_lot, lots.c.expires_at > bindparam("now"))
        .scalar_subquery()
    )
    soon = (
        select(func.coalesce(func.sum(lots.c.remaining), 0))
        .where(*open_lot, lots.c.expires_at <= bindparam("soon"))
        .scalar_subquery()
    )
    next_amount = (
        select(func.coalesce(func.sum(nxt.c.remaining), 0))
        .where(
            nxt.c.account_id == ACCOUNTS.c.id,
            nxt.c.status == LotStatus.AVAILABLE,
            nxt.c.expires_at == next_at,
        )
        .scalar_subquery()
    )
    return (
        select(
            ACCOUNTS.c.unit,
            ACCOUNTS.c.available,
            ACCOUNTS.c.pending,
            ACCOUNTS.c.debt,
            soon.label("expiring_soon"),
            next_at.label("next_expiry_at"),
            next_amount.label("next_expiry_amount"),
        )
        .where(ACCOUNTS.c.customer_id == bindparam("customer_id"))
        .order_by(ACCOUNTS.c.unit)
    )


BALANCES = _balances_statement()
CUSTOMER_ID = select(CUSTOMERS.c.id).where(CUSTOMERS.c.external_id == bindparam("external_id"))


def customer_id_of(session: Session, external_id: str) -> int:
    """The customer's row id (one ready statement: balance reads are a hot path); 404 if none."""
    found = session.execute(CUSTOMER_ID, {"external_id": external_id}).scalar_one_or_none()
    if found is None:
        raise CustomerNotFound(external_id)
    return int(found)


def balance_summaries(
    session: Session, *, customer_id: int, now: datetime, within: timedelta
) -> list[BalanceSummary]:
    """Each of the customer's balances, with the available amount expiring within `within`.

    Balance rows are brought up to date by every write and by the sweeps; between a lot's expiry
    and the next sweep the row still counts it, so expiries are read from the lots, not guessed.
    """
    params = {"customer_id": customer_id, "now": now, "soon": now + within}
    return [
        BalanceSummary(
            unit=row.unit,
            available=int(row.available),
            pending=int(row.pending),
            debt=int(row.debt),
            expiring_soon=int(row.expiring_soon),
            next_expiry_at=_aware(row.next_expiry_at),
            next_expiry_amount=int(row.next_expiry_amount) if row.next_expiry_at else 0,
        )
        for row in session.execute(BALANCES, params)
    ]


def _aware(value: Any) -> datetime | None:
    """MIN() over a UTC column comes back without the column's type on SQLite (a string)."""
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


ENTRY_COLUMNS = (*ENTRIES.c, ACCOUNTS.c.unit)


def ledger_entries(
    session: Session, *, customer_id: int, unit: str | None, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """The customer's entries, newest first, `limit` at a time (keyset on the entry id)."""
    stmt = (
        select(*ENTRY_COLUMNS)
        .join(ACCOUNTS, ACCOUNTS.c.id == ENTRIES.c.account_id)
        .where(ACCOUNTS.c.customer_id == customer_id)
    )
    if unit is not None:
        stmt = stmt.where(ACCOUNTS.c.unit == unit)
    if cursor is not None:
        stmt = stmt.where(ENTRIES.c.id < cursor_id(decode_cursor(cursor, ("before",)), "before"))
    rows = list(session.execute(stmt.order_by(ENTRIES.c.id.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor({"before": rows[-1].id}) if more else None


def ledger_entry(session: Session, entry_id: int) -> Any:
    stmt = (
        select(*ENTRY_COLUMNS)
        .join(ACCOUNTS, ACCOUNTS.c.id == ENTRIES.c.account_id)
        .where(ENTRIES.c.id == entry_id)
    )
    return session.execute(stmt).one()
