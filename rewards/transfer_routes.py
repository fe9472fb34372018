"""HTTP for billing operations: the gateway's status and alerts, and the credit transfers (list,
retry a failed one, or give it back to the ledger)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from loyalty_engine.billing import alerts
from loyalty_engine.billing.factory import applies_credits
from loyalty_engine.billing.models import BillingTransfer, TransferDirection, TransferStatus
from loyalty_engine.customers import service as customers
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from rewards import transfers
from rewards.transfers import TRANSFERS

router = APIRouter(prefix="/v1/billing", tags=["billing"])


class AlertRead(BaseModel):
    gateway: str
    kind: str
    message: str
    raised_at: datetime


class BillingStatusRead(BaseModel):
    gateway: str
    applies_credits: bool
    alerts: list[AlertRead]
    transfers: dict[str, int]


class TransferRead(BaseModel):
    id: int
    customer_id: int
    direction: TransferDirection
    amount: int
    currency: str
    status: TransferStatus
    gateway: str
    billing_customer_id: str
    external_id: str | None
    entry_id: int
    return_entry_id: int | None
    outbox_message_id: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@router.get("/status", response_model=BillingStatusRead, responses=errors())
def billing_status(uow: UnitOfWorkDep, runtime: RuntimeDep) -> BillingStatusRead:
    """Which gateway, whether it applies credits itself, open alerts, transfers by status."""
    assert runtime.billing is not None
    with uow() as session:
        counts = dict.fromkeys((s.value for s in TransferStatus), 0)
        stmt = select(TRANSFERS.c.status, func.count()).group_by(TRANSFERS.c.status)
        counts.update({status: int(n) for status, n in session.execute(stmt)})
        return BillingStatusRead(
            gateway=runtime.billing.name,
            applies_credits=applies_credits(runtime.settings, runtime.billing),
            alerts=[
                AlertRead(gateway=a.gateway, kind=a.kind, message=a.message, raised_at=a.raised_at)
                for a in alerts.open_alerts(session)
            ],
            transfers=counts,
        )


@router.get("/transfers", response_model=list[TransferRead], responses=errors(404))
def list_transfers(
    uow: UnitOfWorkDep,
    now: NowDep,
    status: TransferStatus | None = None,
    customer: Annotated[str | None, Query(description="The customer's external id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TransferRead]:
    """Newest first."""
    with uow() as session:
        customer_id = None
        if customer is not None:
            customer_id = customers.get_customer(session, external_id=customer).id
        found = transfers.list_transfers(
            session, status=status, customer_id=customer_id, limit=limit
        )
        return [_read(t) for t in found]


@router.post(
    "/transfers/{transfer_id}/retry", response_model=TransferRead, responses=errors(404, 409)
)
def retry_transfer(transfer_id: int, uow: UnitOfWorkDep, now: NowDep) -> TransferRead:
    """Send a failed transfer again, with the same idempotency key (after fixing its cause)."""
    with uow() as session:
        return _read(transfers.retry_transfer(session, transfer_id=transfer_id, now=now))


@router.post(
    "/transfers/{transfer_id}/return", response_model=TransferRead, responses=errors(404, 409)
)
def return_transfer(transfer_id: int, uow: UnitOfWorkDep, now: NowDep) -> TransferRead:
    """Give a failed credit transfer back to the customer's ledger; it is never sent again."""
    with uow() as session:
        return _read(transfers.return_transfer(session, transfer_id=transfer_id, now=now))


def _read(transfer: BillingTransfer) -> TransferRead:
    return TransferRead.model_validate(transfer, from_attributes=True)
