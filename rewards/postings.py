"""How a change reaches the ledger: lock the account row, post entries with the lots they take
from, write the balance row back once. Idempotency keys are checked here, under the lock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from loyalty_engine.customers.errors import CustomerNotFound
from loyalty_engine.customers.models import Customer
from loyalty_engine.db import insert_ignore, prepared
from rewards.errors import IdempotencyKeyReused
from rewards.ledger import Lot, Take
from rewards.models import (
    EntryKind,
    LedgerAccount,
    LedgerAllocation,
    LedgerEntry,
    LedgerLot,
    LotStatus,
    SourceKind,
)

ACCOUNTS = LedgerAccount.__table__  # type: ignore[attr-defined]
LOTS = LedgerLot.__table__  # type: ignore[attr-defined]
ENTRIES = LedgerEntry.__table__  # type: ignore[attr-defined]
ALLOCATIONS = LedgerAllocation.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """An entry as posted. `is_replay` when an idempotency key returned an earlier entry."""

    id: int
    account_id: int
    lot_id: int | None
    kind: EntryKind
    amount: int
    pending_amount: int
    balance_after: int
    pending_after: int
    unrecovered: int
    reason: str
    idempotency_key: str | None
    source_kind: str | None
    source_ref: str | None
    created_at: datetime
    is_replay: bool = False


@dataclass(frozen=True, slots=True)
class Origin:
    """Why an entry exists: its source, and the rule decision that made it, when one did."""

    kind: SourceKind | None = None
    ref: str | None = None
    rule_version_id: int | None = None
    event_id: int | None = None
    decision_id: int | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A caller's key and the digest of the request that first used it."""

    key: str | None
    digest: str


NO_KEY = IdempotencyKey(None, "")


@dataclass(frozen=True, slots=True)
class Posting:
    """One entry to post: signed changes to available and pending, and the lots it takes from."""

    kind: EntryKind
    reason: str
    origin: Origin = Origin()
    lot_id: int | None = None
    amount: int = 0
    pending_amount: int = 0
    takes: Sequence[Take] = ()
    unrecovered: int = 0
    key: IdempotencyKey = NO_KEY


@dataclass
class LockedAccount:
    """The locked balance row, as this unit of work changes it (written back by `save_account`)."""

    id: int
    available: int
    pending: int
    debt: int
    next_due_at: datetime | None = None
    is_changed: bool = field(default=False)

    def due_by(self, at: datetime | None) -> None:
        """A lot of this account matures or expires at `at`: catch up no later than that."""
        if at is not None and (self.next_due_at is None or at < self.next_due_at):
            self.next_due_at = at
            self.is_changed = True


# Built once: every posting runs these (see `loyalty_engine.db.prepared`).
LOCK_ACCOUNT = (
    select(ACCOUNTS)
    .where(ACCOUNTS.c.customer_id == bindparam("customer_id"), ACCOUNTS.c.unit == bindparam("unit"))
    .with_for_update()
)
SAVE_ACCOUNT = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.id == bindparam("b_id"))
    .values(
        available=bindparam("b_available"),
        pending=bindparam("b_pending"),
        debt=bindparam("b_debt"),
        next_due_at=bindparam("b_next_due", type_=ACCOUNTS.c.next_due_at.type),
        version=ACCOUNTS.c.version + 1,
        updated_at=bindparam("b_now"),
    )
)
INSERT_LOT = LOTS.insert().returning(LOTS.c.id)
ENTRY_BY_KEY = select(ENTRIES).where(ENTRIES.c.idempotency_key == bindparam("b_key"))


def _entry_insert(keyed: bool) -> Callable[[str], Any]:
    def build(dialect: str) -> Any:
        stmt = insert_ignore(ENTRIES, dialect) if keyed else insert(ENTRIES)
        return stmt.returning(*ENTRIES.c)

    return build


def lock_account(session: Session, customer_id: int, unit: str) -> LockedAccount | None:
    # Concurrent writers to one balance serialize here. PostgreSQL: FOR UPDATE makes each wait for
    # the previous writer's commit and then read its balance. SQLite ignores FOR UPDATE: the write
    # session's BEGIN IMMEDIATE (session_scope(write=True)) already admits one writer at a time.
    # Every change to an account's lots happens under this lock.
    row = session.execute(LOCK_ACCOUNT, {"customer_id": customer_id, "unit": unit}).first()
    if row is None:
        return None
    return LockedAccount(row.id, row.available, row.pending, row.debt, row.next_due_at)


def lock_account_by_id(session: Session, account_id: int) -> LockedAccount:
    """As `lock_account`. Callers that lock several accounts do so in id order (no deadlocks)."""
    row = session.execute(
        select(ACCOUNTS).where(ACCOUNTS.c.id == account_id).with_for_update()
    ).one()
    return LockedAccount(row.id, row.available, row.pending, row.debt, row.next_due_at)


def open_account(session: Session, customer_id: int, unit: str, now: datetime) -> LockedAccount:
    """Lock the account, creating it on the customer's first grant in this unit."""
    account = lock_account(session, customer_id, unit)
    if account is not None:
        return account
    if session.execute(select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == customer_id)).first() is None:
        raise CustomerNotFound(str(customer_id))
    # Insert-or-ignore, then lock: two first grants to one account both end up on the same row.
    session.execute(
        insert_ignore(ACCOUNTS, session.get_bind().dialect.name).values(
            customer_id=customer_id,
            unit=unit,
            available=0,
            pending=0,
            debt=0,
            version=0,
            created_at=now,
            updated_at=now,
        )
    )
    account = lock_account(session, customer_id, unit)
    assert account is not None
    return account


def save_account(session: Session, account: LockedAccount, now: datetime) -> None:
    """Write the balance row back: same transaction as the entries that moved it."""
    if not account.is_changed:
        return
    session.execute(
        SAVE_ACCOUNT,
        {
            "b_id": account.id,
            "b_available": account.available,
            "b_pending": account.pending,
            "b_debt": account.debt,
            "b_next_due": account.next_due_at,
            "b_now": now,
        },
    )
    account.is_changed = False


def post(session: Session, account: LockedAccount, posting: Posting, now: datetime) -> PostedEntry:
    """Insert one entry, its allocations and the lots' new remainders; move the balance."""
    account.available += posting.amount
    account.pending += posting.pending_amount
    account.is_changed = True
    origin, key = posting.origin, posting.key
    values: dict[str, Any] = {
        "account_id": account.id,
        "lot_id": posting.lot_id,
        "kind": posting.kind,
        "amount": posting.amount,
        "pending_amount": posting.pending_amount,
        "balance_after": account.available,
        "pending_after": account.pending,
        "unrecovered": posting.unrecovered,
        "reason": posting.reason,
        "idempotency_key": key.key,
        "request_hash": key.digest if key.key else None,
        "source_kind": origin.kind,
        "source_ref": origin.ref,
        "rule_version_id": origin.rule_version_id,
        "event_id": origin.event_id,
        "decision_id": origin.decision_id,
        "created_at": now,
    }
    # The account lock serialized this key's replays (see `replayed`); a conflict left here is the
    # same key used at this very moment for another account.
    dialect = session.get_bind().dialect.name
    stmt = prepared(
        "ledger.insert_entry_keyed" if key.key else "ledger.insert_entry",
        dialect,
        _entry_insert(bool(key.key)),
    )
    row = session.execute(stmt, values).first()
    if row is None:
        raise IdempotencyKeyReused(str(key.key))
    if posting.takes:
        _take(session, row.id, posting.takes)
    return posted_entry(row)


def _take(session: Session, entry_id: int, takes: Sequence[Take]) -> None:
    session.execute(
        insert(ALLOCATIONS),
        [{"entry_id": entry_id, "lot_id": t.lot_id, "amount": t.amount} for t in takes],
    )
    # The CHECK (remaining >= 0) refuses a take larger than the lot, whatever the code above did.
    session.execute(
        update(LOTS)
        .where(LOTS.c.id == bindparam("b_lot"))
        .values(remaining=LOTS.c.remaining - bindparam("b_take")),
        [{"b_lot": t.lot_id, "b_take": t.amount} for t in takes],
    )


def replayed(session: Session, key: IdempotencyKey) -> PostedEntry | None:
    """The entry this key already posted; IdempotencyKeyReused when the request differs.

    Call it with the account locked: a concurrent first use of the key has committed by then.
    """
    if key.key is None:
        return None
    row = session.execute(ENTRY_BY_KEY, {"b_key": key.key}).first()
    if row is None:
        return None
    if row.request_hash != key.digest:
        raise IdempotencyKeyReused(key.key)
    return replace(posted_entry(row), is_replay=True)


def keyed(key: str | None, *request: object) -> IdempotencyKey:
    """The key with a digest of the request's parameters (their str(), in order)."""
    text = json.dumps([None if part is None else str(part) for part in request])
    return IdempotencyKey(key, hashlib.sha256(text.encode()).hexdigest())


def set_status(session: Session, lot_ids: Sequence[int], status: LotStatus) -> None:
    if lot_ids:
        session.execute(update(LOTS).where(LOTS.c.id.in_(list(lot_ids))).values(status=status))


def lot_value(row: Row[Any]) -> Lot:
    return Lot(
        id=row.id,
        amount=row.amount,
        remaining=row.remaining,
        created_at=row.created_at,
        matures_at=row.matures_at,
        expires_at=row.expires_at,
        is_pending=row.status == LotStatus.PENDING,
    )


def posted_entry(row: Row[Any]) -> PostedEntry:
    return PostedEntry(
        id=row.id,
        account_id=row.account_id,
        lot_id=row.lot_id,
        kind=EntryKind(row.kind),
        amount=row.amount,
        pending_amount=row.pending_amount,
        balance_after=row.balance_after,
        pending_after=row.pending_after,
        unrecovered=row.unrecovered,
        reason=row.reason,
        idempotency_key=row.idempotency_key,
        source_kind=row.source_kind,
        source_ref=row.source_ref,
        created_at=row.created_at,
    )
