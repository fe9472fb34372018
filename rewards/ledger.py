"""Ledger arithmetic, pure: which lots a debit consumes (earliest-expiring first), which lots
mature or expire at `now`, and what reversing a source takes back under each policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from loyalty_engine.money import normalize_currency

POINTS = "points"


@dataclass(frozen=True, slots=True)
class Lot:
    """What the arithmetic needs to know of a lot (one grant)."""

    id: int
    amount: int
    remaining: int
    created_at: datetime
    matures_at: datetime | None = None
    expires_at: datetime | None = None
    is_pending: bool = False


@dataclass(frozen=True, slots=True)
class Take:
    """`amount` taken from one lot."""

    lot_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """A recorded take. `is_removal` when it is the lot's own expiry or reversal; otherwise a
    debit (spend, adjustment, claw-back, debt repayment) used that part of the lot."""

    lot_id: int
    amount: int
    is_removal: bool


class ReversalPolicy(StrEnum):
    """What happens to the part of a reversed grant that was already used."""

    ALLOW_NEGATIVE = "allow_negative"  # take it all back; the balance may go below zero
    CLAW_BACK_TO_ZERO = "claw_back_to_zero"  # take back what the balance holds, record the rest


@dataclass(frozen=True, slots=True)
class LotReversal:
    """The reversal of one lot: its remainder removed, its used part clawed back from other lots,
    and what could not be: owed (a negative balance) or unrecovered, by policy."""

    lot_id: int
    is_pending: bool
    removed: int
    clawed: tuple[Take, ...]
    owed: int
    unrecovered: int

    @property
    def takes(self) -> tuple[Take, ...]:
        own = (Take(self.lot_id, self.removed),) if self.removed else ()
        return own + self.clawed

    @property
    def available_change(self) -> int:
        own = 0 if self.is_pending else self.removed
        return -(own + sum(t.amount for t in self.clawed) + self.owed)

    @property
    def pending_change(self) -> int:
        return -self.removed if self.is_pending else 0

    @property
    def is_noop(self) -> bool:
        return not (self.removed or self.clawed or self.owed or self.unrecovered)


def normalize_unit(unit: str) -> str:
    """ "points", or a currency as a lowercase ISO 4217 code; ValueError otherwise."""
    lowered = unit.strip().lower()
    return POINTS if lowered == POINTS else normalize_currency(lowered)


def spend_order(lot: Lot) -> tuple[bool, datetime, datetime, int]:
    """Earliest expiry first, lots that never expire last; ties by creation, then id."""
    return (lot.expires_at is None, lot.expires_at or lot.created_at, lot.created_at, lot.id)


def is_spendable(lot: Lot, now: datetime) -> bool:
    not_expired = lot.expires_at is None or lot.expires_at > now
    return not lot.is_pending and lot.remaining > 0 and not_expired


def allocate_spend(lots: Iterable[Lot], amount: int, now: datetime) -> list[Take]:
    """Takes from the spendable lots, earliest-expiring first, up to `amount` (fewer when the lots
    hold less: the caller compares)."""
    takes: list[Take] = []
    left = amount
    for lot in sorted((lot for lot in lots if is_spendable(lot, now)), key=spend_order):
        if left <= 0:
            break
        take = min(lot.remaining, left)
        takes.append(Take(lot.id, take))
        left -= take
    return takes


def matured(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Pending lots whose hold is over, in the order they matured."""
    due = [lot for lot in lots if lot.is_pending and _due(lot.matures_at, now)]
    return sorted(due, key=lambda lot: (lot.matures_at, lot.id))


def expired(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Open lots (pending or available) whose expiry has come, in the order they expired."""
    due = [lot for lot in lots if _due(lot.expires_at, now)]
    return sorted(due, key=lambda lot: (lot.expires_at, lot.id))


def debt_repayment(debt: int, lot: Lot) -> list[Take]:
    """A lot that becomes available while the customer owes repays the debt first."""
    take = min(debt, lot.remaining)
    return [Take(lot.id, take)] if take > 0 else []


def used(allocations: Iterable[Allocation]) -> dict[int, int]:
    """Per lot, how much debits took from it (its own expiry or reversal excluded)."""
    totals: dict[int, int] = {}
    for allocation in allocations:
        if not allocation.is_removal:
            totals[allocation.lot_id] = totals.get(allocation.lot_id, 0) + allocation.amount
    return totals


def reversal_plan(
    lots_of_source: Sequence[Lot],
    allocations: Iterable[Allocation],
    policy: ReversalPolicy,
    *,
    others: Iterable[Lot],
    now: datetime,
) -> list[LotReversal]:
    """Undo a source's lots (one account): each lot's remainder is removed; what it had given to
    debits is clawed back from the account's other spendable lots, earliest-expiring first; the
    rest is owed (ALLOW_NEGATIVE) or recorded as unrecovered (CLAW_BACK_TO_ZERO)."""
    given = used(allocations)
    source_ids = {lot.id for lot in lots_of_source}
    pool = {lot.id: lot for lot in others if lot.id not in source_ids}
    plans = []
    for lot in sorted(lots_of_source, key=lambda lot: lot.id):
        owed_back = given.get(lot.id, 0)
        clawed = allocate_spend(pool.values(), owed_back, now)
        for take in clawed:
            pool[take.lot_id] = replace(
                pool[take.lot_id], remaining=pool[take.lot_id].remaining - take.amount
            )
        rest = owed_back - sum(take.amount for take in clawed)
        negative = policy is ReversalPolicy.ALLOW_NEGATIVE
        plans.append(
            LotReversal(
                lot_id=lot.id,
                is_pending=lot.is_pending,
                removed=lot.remaining,
                clawed=tuple(clawed),
                owed=rest if negative else 0,
                unrecovered=0 if negative else rest,
            )
        )
    return plans


def _due(at: datetime | None, now: datetime) -> bool:
    return at is not None and at <= now
