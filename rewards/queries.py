"""Ledger reads for the API: balances with what expires soon, and the ledger page by page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select
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
    """Built once (balance reads are a hot path): each account of a customer, joined with its
    open lots that have an expiry (found by the account-and-status index)."""
    lots = LOTS.alias("l")
    open_lots = lots.c.account_id == ACCOUNTS.c.id
    open_lots = (
        open_lots
        & (lots.c.status == LotStatus.AVAILABLE)
        & (lots.c.remaining > 0)
        & lots.c.expires_at.is_not(None)
    )
    return (
        select(
            ACCOUNTS.c.unit,
            ACCOUNTS.c.available,
            ACCOUNTS.c.pending,
            ACCOUNTS.c.debt,
            lots.c.expires_at,
            lots.c.remaining,
        )
        .select_from(ACCOUNTS.outerjoin(lots, open_lots))
        .where(ACCOUNTS.c.customer_id == bindparam("customer_id"))
        .order_by(ACCOUNTS.c.unit)
    )


BALANCES = _balances_statement()
CUSTOMER_ID = select(CUSTOMERS.c.id).where(CUSTOMERS.c.external_id == bindparam("external_id"))


def customer_id_of(session: Session | Connection, external_id: str) -> int:
    """The customer's row id (one ready statement: balance reads are a hot path); 404 if none."""
    found = session.execute(CUSTOMER_ID, {"external_id": external_id}).scalar_one_or_none()
    if found is None:
        raise CustomerNotFound(external_id)
    return int(found)


def balance_summaries(
    session: Session | Connection, *, customer_id: int, now: datetime, within: timedelta
) -> list[BalanceSummary]:
    """Each of the customer's balances, with the available amount expiring within `within`.

    Balance rows are brought up to date by every write and by the sweeps; between a lot's expiry
    and the next sweep the row still counts it, so expiries are read from the lots, not guessed.
    """
    soon_until = now + within
    found: dict[str, BalanceSummary] = {}
    for row in session.execute(BALANCES, {"customer_id": customer_id}):
        summary = found.get(row.unit) or BalanceSummary(
            unit=row.unit,
            available=int(row.available),
            pending=int(row.pending),
            debt=int(row.debt),
            expiring_soon=0,
            next_expiry_at=None,
            next_expiry_amount=0,
        )
        expires_at = _aware(row.expires_at)
        if expires_at is not None:
            remaining = int(row.remaining)
            if expires_at <= soon_until:
                summary = replace(summary, expiring_soon=summary.expiring_soon + remaining)
            if expires_at > now:
                if summary.next_expiry_at is None or expires_at < summary.next_expiry_at:
                    summary = replace(
                        summary, next_expiry_at=expires_at, next_expiry_amount=remaining
                    )
                elif expires_at == summary.next_expiry_at:
                    summary = replace(
                        summary, next_expiry_amount=summary.next_expiry_amount + remaining
                    )
        found[row.unit] = summary
    return list(found.values())


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
