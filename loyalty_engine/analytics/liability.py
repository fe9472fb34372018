"""What the program owes and what it lets lapse: outstanding points and credits by the month
they expire, and per grant month how the granted amount was used (spent, expired, reversed...),
with breakage = expired / granted in basis points, rounded down."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_engine.analytics.periods import month_of
from rewards.models import EntryKind, LotStatus
from rewards.postings import ACCOUNTS, ALLOCATIONS, ENTRIES, LOTS

NEVER = "never"
# What took an amount from a lot, by the taking entry's kind. A grant takes from its own new lot
# only to repay a debt (left by an allow-negative reversal).
_USES = {
    EntryKind.SPEND: "spent",
    EntryKind.EXPIRE: "expired",
    EntryKind.REVERSE: "reversed",
    EntryKind.ADJUST: "adjusted",
    EntryKind.EARN: "repaid_debt",
}


@dataclass
class Outstanding:
    unit: str
    available: int = 0
    pending: int = 0
    by_expiry_month: dict[str, int] = field(default_factory=dict)  # month (or "never") -> amount


@dataclass
class Cohort:
    """The lots granted in one month, in one unit, and where their amount went."""

    unit: str
    month: str
    granted: int = 0
    outstanding: int = 0
    # what took from the lots: spent, expired, reversed, adjusted, repaid_debt -> amount
    used: dict[str, int] = field(default_factory=dict)

    @property
    def expired(self) -> int:
        return self.used.get("expired", 0)

    @property
    def breakage_bps(self) -> int:
        return self.expired * 10_000 // self.granted if self.granted else 0


@dataclass
class Liability:
    as_of: datetime
    outstanding: list[Outstanding]
    cohorts: list[Cohort]


def liability(
    session: Session,
    *,
    now: datetime,
    unit: str | None,
    granted_from: datetime,
    granted_until: datetime,
) -> Liability:
    """Outstanding amounts now (by expiry month) and the grant cohorts of the period."""
    return Liability(
        as_of=now,
        outstanding=_outstanding(session, unit),
        cohorts=_cohorts(session, unit, granted_from, granted_until),
    )


def _outstanding(session: Session, unit: str | None) -> list[Outstanding]:
    month = func.coalesce(month_of(LOTS.c.expires_at), NEVER)
    stmt = (
        select(ACCOUNTS.c.unit, LOTS.c.status, month, func.sum(LOTS.c.remaining))
        .join(ACCOUNTS, ACCOUNTS.c.id == LOTS.c.account_id)
        .where(LOTS.c.status.in_([LotStatus.AVAILABLE, LotStatus.PENDING]), LOTS.c.remaining > 0)
        .group_by(ACCOUNTS.c.unit, LOTS.c.status, month)
    )
    if unit is not None:
        stmt = stmt.where(ACCOUNTS.c.unit == unit)
    found: dict[str, Outstanding] = {}
    for row_unit, status, expiry_month, amount in session.execute(stmt):
        entry = found.setdefault(row_unit, Outstanding(row_unit))
        if status == LotStatus.PENDING:
            entry.pending += int(amount)
        else:
            entry.available += int(amount)
        entry.by_expiry_month[expiry_month] = entry.by_expiry_month.get(expiry_month, 0) + int(
            amount
        )
    for entry in found.values():  # months in order, lots that never expire last
        entry.by_expiry_month = dict(
            sorted(entry.by_expiry_month.items(), key=lambda kv: (kv[0] == NEVER, kv[0]))
        )
    return [found[u] for u in sorted(found)]


def _cohorts(
    session: Session, unit: str | None, granted_from: datetime, granted_until: datetime
) -> list[Cohort]:
    month = month_of(LOTS.c.created_at)
    of_period = (LOTS.c.created_at >= granted_from, LOTS.c.created_at < granted_until)
    of_unit = (ACCOUNTS.c.unit == unit,) if unit is not None else ()
    granted = (
        select(ACCOUNTS.c.unit, month, func.sum(LOTS.c.amount), func.sum(LOTS.c.remaining))
        .join(ACCOUNTS, ACCOUNTS.c.id == LOTS.c.account_id)
        .where(*of_period, *of_unit)
        .group_by(ACCOUNTS.c.unit, month)
    )
    cohorts: dict[tuple[str, str], Cohort] = {}
    for row_unit, row_month, amount, remaining in session.execute(granted):
        cohorts[(row_unit, row_month)] = Cohort(
            row_unit, row_month, granted=int(amount), outstanding=int(remaining)
        )
    used_by_kind = (
        select(ACCOUNTS.c.unit, month, ENTRIES.c.kind, func.sum(ALLOCATIONS.c.amount))
        .select_from(ALLOCATIONS)
        .join(LOTS, LOTS.c.id == ALLOCATIONS.c.lot_id)
        .join(ACCOUNTS, ACCOUNTS.c.id == LOTS.c.account_id)
        .join(ENTRIES, ENTRIES.c.id == ALLOCATIONS.c.entry_id)
        .where(*of_period, *of_unit)
        .group_by(ACCOUNTS.c.unit, month, ENTRIES.c.kind)
    )
    used: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for row_unit, row_month, kind, amount in session.execute(used_by_kind):
        used[(row_unit, row_month)][_USES.get(kind, str(kind))] = int(amount)
    for key, kinds in used.items():
        cohorts[key].used = dict(sorted(kinds.items()))
    return [cohorts[k] for k in sorted(cohorts)]
