"""Ledger use cases: grant, spend, adjust, reverse a source, mature and expire due lots, read and
prove balances. Every write locks the account row first, then brings its lots up to `now`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_engine.errors import ValidationFailed, problem
from rewards import ledger
from rewards.errors import InsufficientBalance
from rewards.ledger import Allocation, Lot, ReversalPolicy, Take
from rewards.models import EntryKind, LotStatus, SourceKind
from rewards.postings import (
    ACCOUNTS,
    ALLOCATIONS,
    ENTRIES,
    INSERT_LOT,
    LOTS,
    LockedAccount,
    Origin,
    PostedEntry,
    Posting,
    keyed,
    lock_account,
    lock_account_by_id,
    lot_value,
    open_account,
    post,
    replayed,
    save_account,
    set_status,
)

OPEN = (LotStatus.PENDING, LotStatus.AVAILABLE)
SWEEP_ACCOUNTS = 500  # accounts per sweep call; the job calls again while there is work


@dataclass(frozen=True, slots=True)
class Balance:
    unit: str
    available: int
    pending: int
    debt: int


def grant(
    session: Session,
    *,
    customer_id: int,
    unit: str,
    amount: int,
    reason: str,
    source_kind: SourceKind,
    source_ref: str,
    now: datetime,
    matures_at: datetime | None = None,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    rule_version_id: int | None = None,
    event_id: int | None = None,
    decision_id: int | None = None,
    new_key: bool = False,
) -> PostedEntry:
    """Add a lot of `amount`: pending until `matures_at` when that is later than `now`.

    `new_key`: the key names a row this very transaction created (a rule decision, recorded
    once per rule version and event), so no earlier use can exist to replay: the lookup is
    skipped. The key's unique index still refuses a second use."""
    unit = _unit(unit)
    _require_positive(amount)
    _require_later("$.expires_at", expires_at, max(now, matures_at or now))
    origin = Origin(source_kind, source_ref, rule_version_id, event_id, decision_id)
    key = keyed(
        idempotency_key, "grant", customer_id, unit, amount, reason, origin, matures_at, expires_at
    )
    account = open_account(session, customer_id, unit, now)
    if not new_key and (replay := replayed(session, key)) is not None:
        return replay
    _catch_up(session, account, now)
    lot = _new_lot(session, account, amount, origin, now, matures_at, expires_at)
    entry = _post_new_lot(
        session, account, lot, Posting(EntryKind.EARN, reason, origin, key=key), now
    )
    save_account(session, account, now)
    return entry


def spend(
    session: Session,
    *,
    customer_id: int,
    unit: str,
    amount: int,
    reason: str,
    now: datetime,
    idempotency_key: str | None,
    source_ref: str | None = None,
) -> PostedEntry:
    """Consume `amount` from the spendable lots, earliest-expiring first; InsufficientBalance
    (with the balance in `details`) when the available balance cannot cover it."""
    unit = _unit(unit)
    _require_positive(amount)
    origin = Origin(SourceKind.REDEMPTION, source_ref)
    key = keyed(idempotency_key, "spend", customer_id, unit, amount, reason, origin)
    debit = Posting(EntryKind.SPEND, reason, origin, amount=-amount, key=key)
    return _debit(session, customer_id, unit, debit, now)


def adjust(
    session: Session,
    *,
    customer_id: int,
    unit: str,
    amount: int,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> PostedEntry:
    """A correction: a positive amount adds a lot, a negative one consumes lots as a spend does."""
    unit = _unit(unit)
    if amount == 0:
        raise ValidationFailed("nothing to adjust", details=[problem("$.amount", "must not be 0")])
    origin = Origin(SourceKind.ADJUSTMENT, idempotency_key)
    key = keyed(idempotency_key, "adjust", customer_id, unit, amount, reason)
    posting = Posting(EntryKind.ADJUST, reason, origin, amount=amount, key=key)
    if amount < 0:
        return _debit(session, customer_id, unit, posting, now)
    account = open_account(session, customer_id, unit, now)
    if (replay := replayed(session, key)) is not None:
        return replay
    _catch_up(session, account, now)
    lot = _new_lot(session, account, amount, origin, now)
    entry = _post_new_lot(session, account, lot, posting, now)
    save_account(session, account, now)
    return entry


def reverse_source(
    session: Session,
    *,
    source_kind: SourceKind,
    source_ref: str,
    reason: str,
    now: datetime,
    policy: ReversalPolicy,
) -> list[PostedEntry]:
    """Undo every grant of a source (a refund, a chargeback, a voided referral), one reverse
    entry per lot. Reversing the same source again posts nothing."""
    of_source = (LOTS.c.source_kind == source_kind, LOTS.c.source_ref == source_ref)
    account_ids = session.execute(
        select(LOTS.c.account_id).where(*of_source).distinct().order_by(LOTS.c.account_id)
    ).scalars()
    reversal = Posting(EntryKind.REVERSE, reason, Origin(source_kind, source_ref))
    posted: list[PostedEntry] = []
    for account_id in list(account_ids):  # in id order, as the sweeps: no deadlocks
        account = lock_account_by_id(session, account_id)
        _catch_up(session, account, now)
        lots = _lots(session, account_id, LOTS.c.status != LotStatus.REVERSED, *of_source)
        posted += _reverse_lots(session, account, lots, reversal, policy, now)
        save_account(session, account, now)
    return posted


def mature_due(session: Session, *, now: datetime) -> list[PostedEntry]:
    """Make available the pending lots whose hold is over (a sweep over a batch of accounts)."""
    due = (LOTS.c.status == LotStatus.PENDING, LOTS.c.matures_at <= now)
    return _sweep(session, due, _mature_lots, now)


def expire_due(session: Session, *, now: datetime) -> list[PostedEntry]:
    """Remove what remains of each lot whose expiry has come: one entry per lot, not the balance."""
    due = (LOTS.c.status.in_(OPEN), LOTS.c.expires_at <= now)
    return _sweep(session, due, _expire_lots, now)


def balances(session: Session, *, customer_id: int) -> dict[str, Balance]:
    """The customer's balance per unit, from the balance rows (one indexed read)."""
    rows = session.execute(
        select(ACCOUNTS.c.unit, ACCOUNTS.c.available, ACCOUNTS.c.pending, ACCOUNTS.c.debt).where(
            ACCOUNTS.c.customer_id == customer_id
        )
    )
    return {row.unit: Balance(row.unit, row.available, row.pending, row.debt) for row in rows}


def check_account(session: Session, account_id: int) -> bool:
    """True when the balance row equals the sum of its entries and every lot adds up."""
    return not account_problems(session, account_id)


def account_problems(session: Session, account_id: int) -> list[str]:
    """Each way the account's balance row, entries, lots and allocations disagree."""
    account = session.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == account_id)).one()
    of_account = ENTRIES.c.account_id == account_id
    sums = session.execute(
        select(
            func.coalesce(func.sum(ENTRIES.c.amount), 0),
            func.coalesce(func.sum(ENTRIES.c.pending_amount), 0),
        ).where(of_account)
    ).one()
    last = session.execute(
        select(ENTRIES.c.balance_after, ENTRIES.c.pending_after)
        .where(of_account)
        .order_by(ENTRIES.c.id.desc())
        .limit(1)
    ).first()
    taken = (
        select(ALLOCATIONS.c.lot_id, func.sum(ALLOCATIONS.c.amount).label("taken"))
        .group_by(ALLOCATIONS.c.lot_id)
        .subquery()
    )
    lots = session.execute(
        select(LOTS.c.id, LOTS.c.amount, LOTS.c.remaining, LOTS.c.status, taken.c.taken)
        .outerjoin(taken, taken.c.lot_id == LOTS.c.id)
        .where(LOTS.c.account_id == account_id)
    ).all()
    held = {status: sum(lot.remaining for lot in lots if lot.status == status) for status in OPEN}
    problems = [
        f"lot {lot.id}: amount {lot.amount} != remaining {lot.remaining} + taken {lot.taken or 0}"
        for lot in lots
        if lot.amount != lot.remaining + (lot.taken or 0)
    ]
    expected = {
        "available = sum of entry amounts": (account.available, sums[0]),
        "pending = sum of entry pending amounts": (account.pending, sums[1]),
        "pending = pending lots' remainders": (account.pending, held[LotStatus.PENDING]),
        "available = available lots' remainders - debt": (
            account.available,
            held[LotStatus.AVAILABLE] - account.debt,
        ),
        "balance row = last entry's balances": (
            (account.available, account.pending),
            tuple(last) if last else (0, 0),
        ),
    }
    problems += [f"{name}: {a} != {b}" for name, (a, b) in expected.items() if a != b]
    if account.debt > 0 and held[LotStatus.AVAILABLE] > 0:
        problems.append("a debt is owed while available lots still hold some")
    return problems


# --- steps ---


def _new_lot(
    session: Session,
    account: LockedAccount,
    amount: int,
    origin: Origin,
    now: datetime,
    matures_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Lot:
    is_pending = matures_at is not None and matures_at > now
    account.due_by(matures_at if is_pending else None)
    account.due_by(expires_at)
    lot_id = session.execute(
        INSERT_LOT,
        {
            "account_id": account.id,
            "amount": amount,
            "remaining": amount,
            "status": LotStatus.PENDING if is_pending else LotStatus.AVAILABLE,
            "matures_at": matures_at,
            "expires_at": expires_at,
            "source_kind": origin.kind,
            "source_ref": origin.ref,
            "rule_version_id": origin.rule_version_id,
            "event_id": origin.event_id,
            "created_at": now,
        },
    ).scalar_one()
    return Lot(lot_id, amount, amount, now, matures_at, expires_at, is_pending)


def _post_new_lot(
    session: Session, account: LockedAccount, lot: Lot, posting: Posting, now: datetime
) -> PostedEntry:
    """The entry that creates a lot: into pending, or available (repaying any debt first)."""
    if lot.is_pending:
        posting = replace(posting, lot_id=lot.id, amount=0, pending_amount=lot.amount)
    else:
        posting = replace(
            posting, lot_id=lot.id, amount=lot.amount, takes=_repay_debt(account, lot)
        )
    return post(session, account, posting, now)


def _debit(
    session: Session, customer_id: int, unit: str, debit: Posting, now: datetime
) -> PostedEntry:
    """Post `debit` (a negative amount) taking from the lots, earliest-expiring first."""
    account = lock_account(session, customer_id, unit)
    if (replay := replayed(session, debit.key)) is not None:
        return replay
    wanted = -debit.amount
    if account is None:
        raise InsufficientBalance(unit=unit, available=0, requested=wanted)
    _catch_up(session, account, now)
    if account.available < wanted:
        raise InsufficientBalance(unit=unit, available=account.available, requested=wanted)
    takes = ledger.allocate_spend(_spendable_lots(session, account.id), wanted, now)
    if sum(take.amount for take in takes) != wanted:
        raise RuntimeError(f"ledger account {account.id}: its lots do not cover its balance")
    entry = post(session, account, replace(debit, takes=takes), now)
    save_account(session, account, now)
    return entry


def _reverse_lots(
    session: Session,
    account: LockedAccount,
    lots: list[Lot],
    reversal: Posting,
    policy: ReversalPolicy,
    now: datetime,
) -> list[PostedEntry]:
    if not lots:
        return []
    rows = session.execute(
        select(ALLOCATIONS.c.lot_id, ALLOCATIONS.c.amount, ENTRIES.c.kind, ENTRIES.c.lot_id)
        .join(ENTRIES, ENTRIES.c.id == ALLOCATIONS.c.entry_id)
        .where(ALLOCATIONS.c.lot_id.in_([lot.id for lot in lots]))
    )
    # A lot's own expiry or reversal removed points; anything else that took from it used them.
    removals = (EntryKind.EXPIRE, EntryKind.REVERSE)
    allocations = [
        Allocation(lot_id, amount, kind in removals and entry_lot_id == lot_id)
        for lot_id, amount, kind, entry_lot_id in rows
    ]
    others = _spendable_lots(session, account.id)
    posted = []
    for plan in ledger.reversal_plan(lots, allocations, policy, others=others, now=now):
        account.debt += plan.owed
        if not plan.is_noop:
            entry = replace(
                reversal,
                lot_id=plan.lot_id,
                amount=plan.available_change,
                pending_amount=plan.pending_change,
                takes=plan.takes,
                unrecovered=plan.unrecovered,
            )
            posted.append(post(session, account, entry, now))
    set_status(session, [lot.id for lot in lots], LotStatus.REVERSED)
    return posted


def _catch_up(session: Session, account: LockedAccount, now: datetime) -> None:
    """Mature and expire the account's due lots first: a write never acts on a stale balance.
    Nothing can be due before `next_due_at`, so most writes skip the lot queries."""
    if account.next_due_at is None or account.next_due_at > now:
        return
    _mature_lots(session, account, now)
    _expire_lots(session, account, now)
    _refresh_due(session, account)


def _refresh_due(session: Session, account: LockedAccount) -> None:
    """`next_due_at` from the lots themselves: the earliest hold to end or expiry to come."""
    # Typed MIN(): the column's own type reads the value back (SQLite keeps text).
    matures = select(func.min(LOTS.c.matures_at, type_=LOTS.c.matures_at.type)).where(
        LOTS.c.account_id == account.id, LOTS.c.status == LotStatus.PENDING
    )
    expires = select(func.min(LOTS.c.expires_at, type_=LOTS.c.expires_at.type)).where(
        LOTS.c.account_id == account.id, LOTS.c.status.in_(OPEN)
    )
    both = select(matures.scalar_subquery(), expires.scalar_subquery())
    dates = [value for value in session.execute(both).one() if value is not None]
    account.next_due_at = min(dates) if dates else None
    account.is_changed = True


def _mature_lots(session: Session, account: LockedAccount, now: datetime) -> list[PostedEntry]:
    held = _lots(session, account.id, LOTS.c.status == LotStatus.PENDING, LOTS.c.matures_at <= now)
    due = ledger.matured(held, now)
    posted = []
    for lot in due:
        maturity = Posting(
            EntryKind.MATURE,
            "hold period over",
            lot_id=lot.id,
            amount=lot.remaining,
            pending_amount=-lot.remaining,
            takes=_repay_debt(account, lot),
        )
        posted.append(post(session, account, maturity, now))
    set_status(session, [lot.id for lot in due], LotStatus.AVAILABLE)
    return posted


def _expire_lots(session: Session, account: LockedAccount, now: datetime) -> list[PostedEntry]:
    open_lots = _lots(session, account.id, LOTS.c.status.in_(OPEN), LOTS.c.expires_at <= now)
    due = ledger.expired(open_lots, now)
    posted = []
    for lot in due:
        if lot.remaining == 0:
            continue  # used up before it expired: only its status changes
        removed = -lot.remaining
        expiry = Posting(
            EntryKind.EXPIRE,
            "expired",
            lot_id=lot.id,
            amount=0 if lot.is_pending else removed,
            pending_amount=removed if lot.is_pending else 0,
            takes=[Take(lot.id, lot.remaining)],
        )
        posted.append(post(session, account, expiry, now))
    set_status(session, [lot.id for lot in due], LotStatus.EXPIRED)
    return posted


def _repay_debt(account: LockedAccount, lot: Lot) -> list[Take]:
    repaid = ledger.debt_repayment(account.debt, lot)
    account.debt -= sum(take.amount for take in repaid)
    return repaid


def _sweep(
    session: Session,
    due: tuple[Any, ...],
    work: Callable[[Session, LockedAccount, datetime], list[PostedEntry]],
    now: datetime,
) -> list[PostedEntry]:
    account_ids = session.execute(
        select(LOTS.c.account_id)
        .where(*due)
        .distinct()
        .order_by(LOTS.c.account_id)
        .limit(SWEEP_ACCOUNTS)
    ).scalars()
    posted: list[PostedEntry] = []
    for account_id in list(account_ids):
        account = lock_account_by_id(session, account_id)
        posted += work(session, account, now)
        _refresh_due(session, account)
        save_account(session, account, now)
    return posted


def _lots(session: Session, account_id: int, *where: Any) -> list[Lot]:
    rows = session.execute(select(LOTS).where(LOTS.c.account_id == account_id, *where))
    return [lot_value(row) for row in rows]


def _spendable_lots(session: Session, account_id: int) -> list[Lot]:
    return _lots(session, account_id, LOTS.c.status == LotStatus.AVAILABLE, LOTS.c.remaining > 0)


# --- guards for internal callers (HTTP requests are validated by schemas) ---


def _unit(unit: str) -> str:
    try:
        return ledger.normalize_unit(unit)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details=[problem("$.unit", str(exc))]) from exc


def _require_positive(amount: int) -> None:
    if amount <= 0:
        raise ValidationFailed("amount must be positive", details=[problem("$.amount", "> 0")])


def _require_later(path: str, at: datetime | None, after: datetime) -> None:
    if at is not None and at <= after:
        message = f"must be later than {after.isoformat()}"
        raise ValidationFailed(f"{path[2:]} {message}", details=[problem(path, message)])
