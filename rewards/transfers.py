"""Credits to the billing system: with Stripe, the engine applies currency credits itself.

A currency account's available credit (after any hold period) moves onto the billing customer's
balance: the ledger posts a spend ("applied to the billing balance"), a `billing_transfers` row
ties that entry to the outbox message that carries it, and once delivered the row keeps the
billing system's id (a Stripe balance transaction). When a reversal later leaves the account owing
(a refunded purchase whose credit was already transferred), the owed part, up to what was
transferred, is taken back from the billing balance (a positive balance transaction) and the
ledger's debt is repaid by the same amount.

A transfer the billing system refuses for good stays `failed`, visible in `loyalty billing
reconcile` and `/v1/billing/transfers`; the account gets no new transfer until someone retries it
(`POST /v1/billing/transfers/{id}/retry`) or gives the credit back to the ledger (`.../return`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, select, update
from sqlalchemy.orm import Session

from loyalty_engine.billing.delivery import APPLY_CREDIT, REVERSE_CREDIT
from loyalty_engine.billing.models import (
    BillingTransfer,
    TransferDirection,
    TransferStatus,
)
from loyalty_engine.errors import Conflict, NotFound
from loyalty_engine.outbox import service as outbox
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from rewards import service as ledger
from rewards.errors import InsufficientBalance
from rewards.models import LedgerAccount
from rewards.postings import CUSTOMERS

TRANSFERS = BillingTransfer.__table__  # type: ignore[attr-defined]
ACCOUNTS = LedgerAccount.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
POINTS = "points"
BATCH = 200  # accounts per call; the job calls again while there is work


class TransferNotFound(NotFound):
    code = "billing_transfer_not_found"


class TransferNotFailed(Conflict):
    code = "billing_transfer_not_failed"


@dataclass
class TransferReport:
    applied: int = 0  # confirmed by the billing system since the last run
    failed: int = 0  # refused for good since the last run
    credited: int = 0  # new credit transfers queued
    reversed: int = 0  # new reversals queued
    skipped: list[str] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return self.credited + self.reversed


def record_outcomes(session: Session, *, now: datetime) -> tuple[int, int]:
    """Copy delivered and dead outbox outcomes onto the pending transfers; (applied, failed)."""
    rows = session.execute(
        select(TRANSFERS.c.id, OUTBOX.c.status, OUTBOX.c.result, OUTBOX.c.last_error)
        .join(OUTBOX, OUTBOX.c.id == TRANSFERS.c.outbox_message_id)
        .where(
            TRANSFERS.c.status == TransferStatus.PENDING,
            OUTBOX.c.status.in_([OutboxStatus.DELIVERED, OutboxStatus.DEAD]),
        )
    ).all()
    applied = failed = 0
    for transfer_id, status, result, error in rows:
        if status == OutboxStatus.DELIVERED:
            values: dict[str, Any] = {
                "status": TransferStatus.APPLIED,
                "external_id": (result or {}).get("external_id"),
                "last_error": None,
            }
            applied += 1
        else:
            values = {"status": TransferStatus.FAILED, "last_error": error}
            failed += 1
        session.execute(
            update(TRANSFERS).where(TRANSFERS.c.id == transfer_id).values(**values, updated_at=now)
        )
    return applied, failed


def transfer_credits(
    session: Session,
    *,
    gateway: str,
    now: datetime,
    customer_ids: Sequence[int] | None = None,
    limit: int = BATCH,
) -> TransferReport:
    """Record outcomes, then queue a transfer for each currency account with credit to move (or
    debt to recover) whose customer has a billing id. Safe to run at any time, in any number."""
    report = TransferReport()
    report.applied, report.failed = record_outcomes(session, now=now)
    for account in _candidates(session, customer_ids, limit):
        with session.begin_nested():
            try:
                if account.available > 0:
                    _credit(session, account, gateway, now)
                    report.credited += 1
                elif account.recoverable > 0:
                    _recover(session, account, gateway, now)
                    report.reversed += 1
            except InsufficientBalance:  # spent meanwhile: the next run sees the new balance
                report.skipped.append(f"account {account.id}: balance changed")
    return report


@dataclass(frozen=True, slots=True)
class _Account:
    id: int
    customer_id: int
    unit: str
    available: int
    debt: int
    version: int
    billing_customer_id: str
    transferred: int  # net credit on the billing balance through this engine

    @property
    def recoverable(self) -> int:
        return min(self.debt, self.transferred) if self.available < 0 else 0


def _candidates(session: Session, customer_ids: Sequence[int] | None, limit: int) -> list[_Account]:
    signed = case(
        (TRANSFERS.c.direction == TransferDirection.CREDIT, TRANSFERS.c.amount),
        else_=-TRANSFERS.c.amount,
    )
    net = (
        select(
            TRANSFERS.c.account_id,
            cast(func.sum(signed), BigInteger).label("transferred"),  # not PostgreSQL's numeric
        )
        .where(TRANSFERS.c.status != TransferStatus.RETURNED)
        .group_by(TRANSFERS.c.account_id)
        .subquery()
    )
    blocked = (
        select(TRANSFERS.c.id)
        .where(
            TRANSFERS.c.account_id == ACCOUNTS.c.id,
            TRANSFERS.c.status == TransferStatus.FAILED,
        )
        .exists()
    )
    stmt = (
        select(
            ACCOUNTS.c.id,
            ACCOUNTS.c.customer_id,
            ACCOUNTS.c.unit,
            ACCOUNTS.c.available,
            ACCOUNTS.c.debt,
            ACCOUNTS.c.version,
            CUSTOMERS.c.billing_customer_id,
            func.coalesce(net.c.transferred, 0),
        )
        .join(CUSTOMERS, CUSTOMERS.c.id == ACCOUNTS.c.customer_id)
        .outerjoin(net, net.c.account_id == ACCOUNTS.c.id)
        .where(
            ACCOUNTS.c.unit != POINTS,
            CUSTOMERS.c.billing_customer_id.is_not(None),
            ~blocked,
            (ACCOUNTS.c.available > 0)
            | and_(ACCOUNTS.c.available < 0, func.coalesce(net.c.transferred, 0) > 0),
        )
        .order_by(ACCOUNTS.c.id)
        .limit(limit)
    )
    if customer_ids is not None:
        stmt = stmt.where(ACCOUNTS.c.customer_id.in_(list(customer_ids)))
    return [_Account(*row) for row in session.execute(stmt)]


def _credit(session: Session, account: _Account, gateway: str, now: datetime) -> None:
    entry = ledger.spend(
        session,
        customer_id=account.customer_id,
        unit=account.unit,
        amount=account.available,
        reason=f"applied to the {gateway} customer balance",
        now=now,
        idempotency_key=f"billing-transfer:{account.id}:{account.version}",
        source_ref=f"billing:{account.billing_customer_id}",
    )
    _queue(session, account, TransferDirection.CREDIT, account.available, entry.id, gateway, now)


def _recover(session: Session, account: _Account, gateway: str, now: datetime) -> None:
    amount = account.recoverable
    entry = ledger.adjust(
        session,
        customer_id=account.customer_id,
        unit=account.unit,
        amount=amount,
        reason=f"owed credit taken back from the {gateway} customer balance",
        now=now,
        idempotency_key=f"billing-recover:{account.id}:{account.version}",
    )
    _queue(session, account, TransferDirection.REVERSAL, amount, entry.id, gateway, now)


def _queue(
    session: Session,
    account: _Account,
    direction: TransferDirection,
    amount: int,
    entry_id: int,
    gateway: str,
    now: datetime,
) -> None:
    transfer_id = session.execute(
        TRANSFERS.insert()
        .values(
            customer_id=account.customer_id,
            account_id=account.id,
            currency=account.unit,
            direction=direction,
            amount=amount,
            billing_customer_id=account.billing_customer_id,
            gateway=gateway,
            entry_id=entry_id,
            status=TransferStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        .returning(TRANSFERS.c.id)
    ).scalar_one()
    key = f"billing-transfer:{transfer_id}"
    credit = direction is TransferDirection.CREDIT
    outbox.enqueue(
        session,
        kind=APPLY_CREDIT if credit else REVERSE_CREDIT,
        idempotency_key=key,
        payload={
            "transfer_id": transfer_id,
            "customer": account.customer_id,
            "billing_customer_id": account.billing_customer_id,
            "amount_minor": amount,
            "currency": account.unit,
            "description": "Loyalty credit" if credit else "Loyalty credit taken back",
        },
        now=now,
        customer_id=account.customer_id,
    )
    message_id = session.execute(
        select(OUTBOX.c.id).where(OUTBOX.c.idempotency_key == key)
    ).scalar_one()
    session.execute(
        update(TRANSFERS).where(TRANSFERS.c.id == transfer_id).values(outbox_message_id=message_id)
    )


def get_transfer(session: Session, transfer_id: int, *, lock: bool = False) -> BillingTransfer:
    stmt = select(BillingTransfer).where(BillingTransfer.id == transfer_id)  # type: ignore[arg-type]
    if lock:
        stmt = stmt.with_for_update()
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise TransferNotFound(f"no billing transfer {transfer_id}")
    return found


def list_transfers(
    session: Session,
    *,
    status: TransferStatus | None = None,
    customer_id: int | None = None,
    limit: int = 100,
) -> list[BillingTransfer]:
    stmt = select(BillingTransfer).order_by(BillingTransfer.id.desc()).limit(limit)  # type: ignore[union-attr]
    if status is not None:
        stmt = stmt.where(BillingTransfer.status == status)  # type: ignore[arg-type]
    if customer_id is not None:
        stmt = stmt.where(BillingTransfer.customer_id == customer_id)  # type: ignore[arg-type]
    return list(session.execute(stmt).scalars())


def retry_transfer(session: Session, *, transfer_id: int, now: datetime) -> BillingTransfer:
    """Send a failed transfer again (after fixing its cause in the billing system)."""
    record_outcomes(session, now=now)
    transfer = _failed(session, transfer_id)
    assert transfer.outbox_message_id is not None
    outbox.retry_one(session, message_id=transfer.outbox_message_id, now=now)
    transfer.status = TransferStatus.PENDING
    transfer.updated_at = now
    session.flush()
    return transfer


def return_transfer(session: Session, *, transfer_id: int, now: datetime) -> BillingTransfer:
    """Give a failed credit transfer back to the ledger. Its outbox message is never sent
    again: the handler checks the transfer first."""
    record_outcomes(session, now=now)
    transfer = _failed(session, transfer_id)
    assert transfer.id is not None
    if transfer.direction != TransferDirection.CREDIT:
        # The ledger already counts the debt as repaid by it: only a retry can complete it.
        raise TransferNotFailed(
            f"billing transfer {transfer.id} takes a credit back; it can be retried, not returned",
            details={"direction": str(transfer.direction)},
        )
    entry = ledger.adjust(
        session,
        customer_id=transfer.customer_id,
        unit=transfer.currency,
        amount=transfer.amount,
        reason=f"billing transfer {transfer.id} failed; the credit is back in the ledger",
        now=now,
        idempotency_key=f"billing-transfer-return:{transfer.id}",
    )
    transfer.status = TransferStatus.RETURNED
    transfer.return_entry_id = entry.id
    transfer.updated_at = now
    session.flush()
    return transfer


def _failed(session: Session, transfer_id: int) -> BillingTransfer:
    transfer = get_transfer(session, transfer_id, lock=True)
    if transfer.status != TransferStatus.FAILED:
        raise TransferNotFailed(
            f"billing transfer {transfer_id} is {transfer.status}; only failed ones can be "
            "retried or returned",
            details={"status": str(transfer.status)},
        )
    return transfer
