"""HTTP for the rewards catalog: items (marketers), offers and redemptions (customers), and
cancel/retry (support)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from loyalty_engine.auth.dependencies import PrincipalDep
from loyalty_engine.billing.factory import applies_credits
from loyalty_engine.customers import service as customers
from loyalty_engine.customers.models import Customer
from loyalty_engine.http import NowDep, RuntimeDep, UnitOfWorkDep, errors
from loyalty_engine.rules.routes import actor
from loyalty_engine.runtime import Runtime
from rewards.catalog import service
from rewards.catalog.models import RewardItem, RewardRedemption
from rewards.catalog.schemas import (
    OfferRead,
    RedemptionRead,
    RewardItemCreate,
    RewardItemRead,
    RewardItemUpdate,
)
from rewards.routes import IdempotencyKeyHeader
from rewards.transfers import transfer_credits

router = APIRouter(prefix="/v1", tags=["rewards catalog"])


@router.get("/rewards", response_model=list[RewardItemRead], responses=errors())
def list_rewards(uow: UnitOfWorkDep) -> list[RewardItemRead]:
    with uow() as session:
        return [_item(i) for i in service.list_items(session)]


@router.post("/rewards", response_model=RewardItemRead, status_code=201, responses=errors(409, 422))
def create_reward(
    body: RewardItemCreate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> RewardItemRead:
    with uow() as session:
        return _item(service.create_item(session, body=body, actor=actor(principal), now=now))


@router.get("/rewards/{key}", response_model=RewardItemRead, responses=errors(404))
def get_reward(key: str, uow: UnitOfWorkDep) -> RewardItemRead:
    with uow() as session:
        return _item(service.get_item(session, key=key))


@router.patch("/rewards/{key}", response_model=RewardItemRead, responses=errors(404, 422))
def update_reward(
    key: str, body: RewardItemUpdate, uow: UnitOfWorkDep, principal: PrincipalDep, now: NowDep
) -> RewardItemRead:
    with uow() as session:
        item = service.update_item(session, key=key, body=body, actor=actor(principal), now=now)
        return _item(item)


@router.get(
    "/customers/{external_id}/rewards", response_model=list[OfferRead], responses=errors(404)
)
def list_offers(
    external_id: str, uow: UnitOfWorkDep, runtime: RuntimeDep, now: NowDep
) -> list[OfferRead]:
    """The rewards on offer, each with whether this customer may redeem it now and why not."""
    assert runtime.rules is not None
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        return service.offers(session, rules=runtime.rules, customer=customer, now=now)


@router.post(
    "/customers/{external_id}/rewards/{key}/redemptions",
    response_model=RedemptionRead,
    status_code=201,
    responses=errors(404, 409, 422),
)
def redeem_reward(
    external_id: str,
    key: str,
    idempotency_key: IdempotencyKeyHeader,
    uow: UnitOfWorkDep,
    runtime: RuntimeDep,
    now: NowDep,
    response: Response,
) -> RedemptionRead:
    """Spend the reward's points and fulfil it. 409 `reward_unavailable` lists every reason;
    409 `insufficient_balance` gives the balance."""
    assert runtime.rules is not None
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        redemption, replayed = service.redeem(
            session,
            rules=runtime.rules,
            customer=customer,
            key=key,
            idempotency_key=idempotency_key,
            now=now,
        )
        if replayed:
            response.status_code = 200
        elif _moves_to_billing(runtime, redemption):
            assert runtime.billing is not None
            # Credit: the ledger grant plus the billing outbox, in the same transaction.
            transfer_credits(
                session,
                gateway=runtime.billing.name,
                now=now,
                customer_ids=[redemption.customer_id],
            )
        return _redemption(session, redemption, external_id, replayed=replayed)


@router.get(
    "/customers/{external_id}/reward-redemptions",
    response_model=list[RedemptionRead],
    responses=errors(404),
)
def list_redemptions(external_id: str, uow: UnitOfWorkDep) -> list[RedemptionRead]:
    with uow() as session:
        customer = customers.get_customer(session, external_id=external_id)
        assert customer.id is not None
        found = service.customer_redemptions(session, customer_id=customer.id)
        return [_redemption(session, r, external_id) for r in found]


@router.post(
    "/reward-redemptions/{redemption_id}/cancel",
    response_model=RedemptionRead,
    responses=errors(404, 409),
)
def cancel_redemption(redemption_id: int, uow: UnitOfWorkDep, now: NowDep) -> RedemptionRead:
    """Return the points (and the stock); an unused account credit is taken back."""
    with uow() as session:
        redemption = service.cancel(session, redemption_id=redemption_id, now=now)
        return _redemption(session, redemption)


@router.post(
    "/reward-redemptions/{redemption_id}/retry",
    response_model=RedemptionRead,
    responses=errors(404, 409),
)
def retry_redemption(redemption_id: int, uow: UnitOfWorkDep, now: NowDep) -> RedemptionRead:
    """Send a failed webhook fulfilment again."""
    with uow() as session:
        redemption = service.retry(session, redemption_id=redemption_id, now=now)
        return _redemption(session, redemption)


def _moves_to_billing(runtime: Runtime, redemption: RewardRedemption) -> bool:
    return (
        bool(redemption.result.get("credit_entry_id"))
        and runtime.billing is not None
        and applies_credits(runtime.settings, runtime.billing)
    )


def _item(item: RewardItem) -> RewardItemRead:
    return RewardItemRead.model_validate(item, from_attributes=True)


def _redemption(
    session: Session,
    redemption: RewardRedemption,
    external_id: str | None = None,
    *,
    replayed: bool = False,
) -> RedemptionRead:
    item = session.get(RewardItem, redemption.item_id)
    assert item is not None
    assert redemption.id is not None
    if external_id is None:
        customer = session.get(Customer, redemption.customer_id)
        assert customer is not None
        external_id = customer.external_id
    return RedemptionRead(
        id=redemption.id,
        reward=item.key,
        customer_id=external_id,
        points=redemption.points,
        status=redemption.status,
        fulfilment_status=service.fulfilment_status(session, redemption),
        result=redemption.result,
        spend_entry_id=redemption.spend_entry_id,
        refund_entry_id=redemption.refund_entry_id,
        created_at=redemption.created_at,
        updated_at=redemption.updated_at,
        replayed=replayed,
    )
