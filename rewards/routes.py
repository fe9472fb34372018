"""HTTP for the ledger: balances, entries, adjustments (staff) and redemptions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from loyalty_engine.customers import service as customers
from loyalty_engine.http import NowDep, UnitOfWorkDep, errors
from rewards import queries, service
from rewards.postings import PostedEntry
from rewards.queries import BalanceSummary
from rewards.schemas import (
    AdjustmentCreate,
    BalanceRead,
    BalancesRead,
    Expiry,
    LedgerEntryRead,
    LedgerPage,
    PostedRead,
    RedemptionCreate,
)

router = APIRouter(prefix="/v1/customers/{external_id}", tags=["ledger"])
IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Your key for this request: a retry with the same key posts nothing new.",
    ),
]


DEFAULT_EXPIRING_DAYS = 30
MAX_EXPIRING_DAYS = 366


@router.get("/balances", response_model=BalancesRead, responses=errors(404, 422))
def get_balances(
    external_id: str,
    uow: UnitOfWorkDep,
    now: NowDep,
    expiring_within_days: Annotated[int, Query(ge=1, le=MAX_EXPIRING_DAYS)] = DEFAULT_EXPIRING_DAYS,
) -> BalancesRead:
    """Available, pending and owed amounts per unit, and what expires soon. (The success case
    is usually answered by the fast route in `rewards/fast.py`, with the same model.)"""
    with uow() as session:
        summaries = queries.balance_summaries(
            session,
            customer_id=queries.customer_id_of(session, external_id),
            now=now,
            within=timedelta(days=expiring_within_days),
        )
    return balances_read(external_id, now, expiring_within_days, summaries)


def balances_read(
    external_id: str, now: datetime, days: int, summaries: list[BalanceSummary]
) -> BalancesRead:
    return BalancesRead(
        customer_id=external_id,
        as_of=now,
        expiring_within_days=days,
        balances=[_balance(s) for s in summaries],
    )


@router.get("/ledger", response_model=LedgerPage, responses=errors(404, 422))
def list_ledger(
    external_id: str,
    uow: UnitOfWorkDep,
    unit: Annotated[str | None, Query(pattern=r"^(points|[a-z]{3})$")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LedgerPage:
    """Every posting on the customer's accounts, newest first, each with its reason and the
    rule decision behind it."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        rows, next_cursor = queries.ledger_entries(
            session, customer_id=customer.id, unit=unit, cursor=cursor, limit=limit
        )
    return LedgerPage(data=[_entry(external_id, r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/adjustments", response_model=PostedRead, status_code=201, responses=errors(404, 409, 422)
)
def create_adjustment(
    external_id: str,
    body: AdjustmentCreate,
    idempotency_key: IdempotencyKeyHeader,
    uow: UnitOfWorkDep,
    now: NowDep,
    response: Response,
) -> PostedRead:
    """A correction by staff: a positive amount adds a lot, a negative one takes from the lots
    (earliest-expiring first). A reason is required; it shows in the ledger."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        entry = service.adjust(
            session,
            customer_id=customer.id,
            unit=body.unit,
            amount=body.amount,
            reason=body.reason,
            now=now,
            idempotency_key=_scoped(customer.id, idempotency_key),
        )
        return _posted(session, external_id, customer.id, entry, now, response)


@router.post(
    "/redemptions", response_model=PostedRead, status_code=201, responses=errors(404, 409, 422)
)
def create_redemption(
    external_id: str,
    body: RedemptionCreate,
    idempotency_key: IdempotencyKeyHeader,
    uow: UnitOfWorkDep,
    now: NowDep,
    response: Response,
) -> PostedRead:
    """Spend points or credits, earliest-expiring lots first. 409 `insufficient_balance` (with
    the balance in the details) when the available balance does not cover it."""
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        key = _scoped(customer.id, idempotency_key)
        entry = service.spend(
            session,
            customer_id=customer.id,
            unit=body.unit,
            amount=body.amount,
            reason=body.reason,
            now=now,
            idempotency_key=key,
            source_ref=key,
        )
        return _posted(session, external_id, customer.id, entry, now, response)


def _scoped(customer_id: int, key: str) -> str:
    """Keys are the caller's per customer: two customers' "1" are different requests."""
    return f"customer:{customer_id}:{key}"


def _posted(
    session: Any,
    external_id: str,
    customer_id: int,
    entry: PostedEntry,
    now: Any,
    response: Response,
) -> PostedRead:
    if entry.is_replay:
        response.status_code = 200
    row = queries.ledger_entry(session, entry.id)
    summaries = queries.balance_summaries(
        session, customer_id=customer_id, now=now, within=timedelta(days=30)
    )
    balance = next(s for s in summaries if s.unit == row.unit)
    return PostedRead(
        entry=_entry(external_id, row), balance=_balance(balance), replayed=entry.is_replay
    )


def _balance(summary: BalanceSummary) -> BalanceRead:
    expiry = (
        Expiry(at=summary.next_expiry_at, amount=summary.next_expiry_amount)
        if summary.next_expiry_at is not None
        else None
    )
    return BalanceRead(
        unit=summary.unit,
        available=summary.available,
        pending=summary.pending,
        debt=summary.debt,
        expiring_soon=summary.expiring_soon,
        next_expiry=expiry,
    )


def _entry(external_id: str, row: Any) -> LedgerEntryRead:
    decision_url = (
        f"/v1/customers/{external_id}/decisions/{row.decision_id}" if row.decision_id else None
    )
    return LedgerEntryRead(
        id=row.id,
        unit=row.unit,
        kind=row.kind,
        amount=row.amount,
        pending_amount=row.pending_amount,
        balance_after=row.balance_after,
        pending_after=row.pending_after,
        unrecovered=row.unrecovered,
        reason=row.reason,
        source_kind=row.source_kind,
        source_ref=row.source_ref,
        lot_id=row.lot_id,
        event_id=row.event_id,
        decision_id=row.decision_id,
        decision_url=decision_url,
        created_at=row.created_at,
    )
