"""Ledger reads for the API: balances with what expires soon, and the ledger page by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor
from rewards.models import LotStatus
from rewards.postings import ACCOUNTS, ENTRIES, LOTS


@dataclass(frozen=True, slots=True)
class BalanceSummary:
    unit: str
    available: int
    pending: int
    debt: int
    expiring_soon: int
    next_expiry_at: datetime | None
    next_expiry_amount: int


def balance_summaries(
    session: Session, *, customer_id: int, now: datetime, within: timedelta
) -> list[BalanceSummary]:
    """Each of the customer's balances, with the available amount expiring within `within`.

    Balance rows are brought up to date by every write and by the sweeps; between a lot's expiry
    and the next sweep the row still counts it, so expiries are read from the lots, not guessed.
    """
    accounts = session.execute(
        select(ACCOUNTS.c.id, ACCOUNTS.c.unit, ACCOUNTS.c.available, ACCOUNTS.c.pending)
        .add_columns(ACCOUNTS.c.debt)
        .where(ACCOUNTS.c.customer_id == customer_id)
        .order_by(ACCOUNTS.c.unit)
    ).all()
    if not accounts:
        return []
    open_lots = (
        LOTS.c.account_id.in_([a.id for a in accounts]),
        LOTS.c.status == LotStatus.AVAILABLE,
        LOTS.c.remaining > 0,
        LOTS.c.expires_at.is_not(None),
    )
    soon: dict[int, int] = dict(
        session.execute(
            select(LOTS.c.account_id, func.sum(LOTS.c.remaining))
            .where(*open_lots, LOTS.c.expires_at <= now + within)
            .group_by(LOTS.c.account_id)
        ).all()
    )
    first = (
        select(LOTS.c.account_id, func.min(LOTS.c.expires_at).label("at"))
        .where(*open_lots, LOTS.c.expires_at > now)
        .group_by(LOTS.c.account_id)
        .subquery()
    )
    next_expiry: dict[int, tuple[datetime, int]] = {
        account_id: (at, int(amount))
        for account_id, at, amount in session.execute(
            select(first.c.account_id, first.c.at, func.sum(LOTS.c.remaining))
            .join(
                LOTS, (LOTS.c.account_id == first.c.account_id) & (LOTS.c.expires_at == first.c.at)
            )
            .where(*open_lots)
            .group_by(first.c.account_id, first.c.at)
        ).all()
    }
    summaries = []
    for account in accounts:
        at, amount = next_expiry.get(account.id, (None, 0))
        summaries.append(
            BalanceSummary(
                unit=account.unit,
                available=int(account.available),
                pending=int(account.pending),
                debt=int(account.debt),
                expiring_soon=int(soon.get(account.id) or 0),
                next_expiry_at=at,
                next_expiry_amount=amount,
            )
        )
    return summaries


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
