"""Catalog use cases: keep the items, show a customer what they may redeem, redeem (spend and
fulfil in one transaction), cancel (points back), and retry a failed fulfilment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_engine import audit
from loyalty_engine.billing.delivery import APPLY_FREE_UPGRADE, REVERT_FREE_UPGRADE
from loyalty_engine.customers.actions import SetTrait, set_customer_trait
from loyalty_engine.customers.models import Customer
from loyalty_engine.errors import ValidationFailed, problem
from loyalty_engine.outbox import service as outbox
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.rules.engine import RulesEngine, lock_customer
from loyalty_engine.rules.windows import add_months
from loyalty_engine.webhooks.delivery import WEBHOOK
from rewards import service as ledger
from rewards.catalog.errors import (
    CreditAlreadyUsed,
    NothingToRetry,
    RedemptionNotFound,
    RewardKeyTaken,
    RewardNotFound,
    RewardUnavailable,
    UpgradeInFlight,
)
from rewards.catalog.models import RedemptionStatus, RewardItem, RewardKind, RewardRedemption
from rewards.catalog.offers import Offer, unavailable_because
from rewards.catalog.schemas import (
    OfferRead,
    RewardItemCreate,
    RewardItemUpdate,
    checked_fulfilment,
)
from rewards.conditions import require_known_conditions
from rewards.errors import IdempotencyKeyReused
from rewards.ledger import ReversalPolicy
from rewards.models import SourceKind
from rewards.postings import LOTS

REDEMPTIONS = RewardRedemption.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


def list_items(session: Session) -> list[RewardItem]:
    return list(session.execute(select(RewardItem).order_by(RewardItem.key)).scalars())


def get_item(session: Session, *, key: str, lock: bool = False) -> RewardItem:
    stmt = select(RewardItem).where(RewardItem.key == key)  # type: ignore[arg-type]
    item = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if item is None:
        raise RewardNotFound(f"no reward {key!r}", details={"key": key})
    return item


def create_item(
    session: Session, *, body: RewardItemCreate, actor: str, now: datetime
) -> RewardItem:
    _require_known_conditions(session, body.segment, body.tiers)
    item = RewardItem(**body.model_dump(mode="json"), created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError as exc:
        raise RewardKeyTaken(f"a reward {body.key!r} exists", details={"key": body.key}) from exc
    _audit(session, item, "create", {}, actor, now)
    return item


def update_item(
    session: Session, *, key: str, body: RewardItemUpdate, actor: str, now: datetime
) -> RewardItem:
    item = get_item(session, key=key, lock=True)
    before = _content(item)
    changes = body.model_dump(exclude_unset=True, mode="json")
    if "fulfilment" in changes:
        try:
            changes["fulfilment"] = checked_fulfilment(RewardKind(item.kind), changes["fulfilment"])
        except ValueError as exc:
            raise ValidationFailed(
                "invalid fulfilment", details=[problem("$.fulfilment", str(exc))]
            ) from exc
    _require_known_conditions(
        session, changes.get("segment", item.segment), changes.get("tiers", item.tiers)
    )
    for name, value in changes.items():
        setattr(item, name, value)
    item.updated_at = now
    session.flush()
    _audit(session, item, "edit", before, actor, now)
    return item


def _content(item: RewardItem) -> dict[str, Any]:
    return {
        name: getattr(item, name) for name in RewardItemCreate.model_fields if name not in ("key",)
    }


def _audit(
    session: Session, item: RewardItem, action: str, before: Any, actor: str, now: datetime
) -> None:
    audit.record(
        session,
        subject_type="reward",
        subject_id=item.key,
        action=action,
        actor=actor,
        before=before,
        after=_content(item),
        now=now,
    )


def _require_known_conditions(session: Session, segment: str | None, tiers: list[str]) -> None:
    require_known_conditions(
        session,
        segments=[("$.segment", segment)],
        tiers=[(f"$.tiers[{i}]", tier) for i, tier in enumerate(tiers)],
        what="the reward",
    )


def offers(
    session: Session, *, rules: RulesEngine, customer: Customer, now: datetime
) -> list[OfferRead]:
    """The active items, each with whether this customer may redeem it now and why not."""
    assert customer.id is not None
    facts = rules.customer_facts(session, [customer.id], now)[customer.id]
    points = facts.get("balances", {}).get("points", 0)
    used = _redeemed_counts(session, customer.id)
    found = []
    for item in list_items(session):
        if not item.is_active:
            continue
        assert item.id is not None
        reasons = unavailable_because(
            _offer(item),
            segments=facts.get("segments", []),
            tier=facts.get("tier"),
            redeemed=used.get(item.id, 0),
            points=points,
        )
        found.append(
            OfferRead(
                key=item.key,
                name=item.name,
                description=item.description,
                kind=item.kind,
                cost_points=item.cost_points,
                stock=item.stock,
                available=not reasons,
                reasons=reasons,
            )
        )
    return found


def _offer(item: RewardItem) -> Offer:
    return Offer(
        is_active=item.is_active,
        cost_points=item.cost_points,
        segment=item.segment,
        tiers=tuple(item.tiers),
        stock=item.stock,
        per_customer_limit=item.per_customer_limit,
    )


def _redeemed_counts(session: Session, customer_id: int) -> dict[int, int]:
    stmt = (
        select(REDEMPTIONS.c.item_id, func.count())
        .where(
            REDEMPTIONS.c.customer_id == customer_id,
            REDEMPTIONS.c.status != RedemptionStatus.CANCELLED,
        )
        .group_by(REDEMPTIONS.c.item_id)
    )
    return {item_id: int(count) for item_id, count in session.execute(stmt)}


def redeem(
    session: Session,
    *,
    rules: RulesEngine,
    customer: Customer,
    key: str,
    idempotency_key: str,
    now: datetime,
) -> tuple[RewardRedemption, bool]:
    """Spend the item's points and fulfil it, in this transaction; (redemption, is_replay)."""
    assert customer.id is not None
    # One customer's redemptions queue on their row: limits are counted by one at a time.
    lock_customer(session, customer.id)
    scoped = f"customer:{customer.id}:reward:{idempotency_key}"
    earlier = session.execute(
        select(RewardRedemption).where(RewardRedemption.idempotency_key == scoped)  # type: ignore[arg-type]
    ).scalar_one_or_none()
    item = get_item(session, key=key, lock=True)  # the item's row guards its stock
    if earlier is not None:
        if earlier.item_id != item.id:
            raise IdempotencyKeyReused(idempotency_key)
        return earlier, True
    facts = rules.customer_facts(session, [customer.id], now)[customer.id]
    assert item.id is not None
    reasons = unavailable_because(
        _offer(item),
        segments=facts.get("segments", []),
        tier=facts.get("tier"),
        redeemed=_redeemed_counts(session, customer.id).get(item.id, 0),
        points=None,
    )
    if reasons:
        raise RewardUnavailable(
            f"reward {key!r} cannot be redeemed: " + "; ".join(reasons),
            details={"reward": key, "reasons": reasons},
        )
    spent = ledger.spend(
        session,
        customer_id=customer.id,
        unit="points",
        amount=item.cost_points,
        reason=f"reward: {item.name}",
        now=now,
        idempotency_key=scoped,
        source_ref=f"reward:{item.key}",
    )
    if item.stock is not None:
        item.stock -= 1
    redemption = RewardRedemption(
        item_id=item.id,
        customer_id=customer.id,
        idempotency_key=scoped,
        points=item.cost_points,
        status=RedemptionStatus.FULFILLED,
        spend_entry_id=spent.id,
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    session.flush()
    _fulfil(session, item, redemption, customer, now)
    session.flush()
    return redemption, False


def _fulfil(
    session: Session,
    item: RewardItem,
    redemption: RewardRedemption,
    customer: Customer,
    now: datetime,
) -> None:
    params = item.fulfilment
    assert customer.id is not None
    assert redemption.id is not None
    if item.kind == RewardKind.ACCOUNT_CREDIT:
        entry = ledger.grant(
            session,
            customer_id=customer.id,
            unit=params["currency"],
            amount=params["amount_minor"],
            reason=f"reward: {item.name}",
            source_kind=SourceKind.REDEMPTION,
            source_ref=f"redemption:{redemption.id}",
            now=now,
        )
        redemption.result = {
            "credit_entry_id": entry.id,
            "currency": params["currency"],
            "amount_minor": params["amount_minor"],
        }
    elif item.kind == RewardKind.SET_TRAIT:
        change = SetTrait.model_validate(params)
        previous = _trait_value(customer, change.trait)
        set_customer_trait(customer, change, now)
        # The value before, so that cancelling puts it back.
        redemption.result = {"trait": change.trait, "value": params["value"], "previous": previous}
    elif item.kind == RewardKind.PLAN_UPGRADE:
        _upgrade(session, item, redemption, customer, now)
    else:
        outbox.enqueue(
            session,
            kind=WEBHOOK,
            idempotency_key=f"reward-redemption:{redemption.id}",
            payload={
                "url": params["url"],
                "event": "reward.redeemed",
                "data": {
                    "redemption_id": redemption.id,
                    "reward": item.key,
                    "customer_id": customer.external_id,
                    "points": redemption.points,
                },
            },
            now=now,
            customer_id=customer.id,
        )
        redemption.outbox_message_id = _message_id(session, f"reward-redemption:{redemption.id}")
        redemption.status = RedemptionStatus.PENDING
        redemption.result = {"webhook": params["url"]}


def _trait_value(customer: Customer, trait: str) -> Any:
    if trait.startswith("custom."):
        return to_jsonable_python(customer.custom_traits.get(trait.removeprefix("custom.")))
    return to_jsonable_python(getattr(customer, trait))


def _upgrade(
    session: Session,
    item: RewardItem,
    redemption: RewardRedemption,
    customer: Customer,
    now: datetime,
) -> None:
    """Queue the upgrade, and its way back when the months are over."""
    assert redemption.id is not None
    if customer.billing_customer_id is None:
        raise RewardUnavailable(
            f"reward {item.key!r} cannot be redeemed: the customer has no billing account",
            details={"reward": item.key, "reasons": ["the customer has no billing_customer_id"]},
        )
    params = item.fulfilment
    key = f"reward-redemption:{redemption.id}"
    ends = add_months(now, params["months"])
    common = {"billing_customer_id": customer.billing_customer_id}
    for kind, message_key, payload, at in (
        (
            APPLY_FREE_UPGRADE,
            key,
            {
                **common,
                "price_id": params["price_id"],
                "months": params["months"],
                "description": item.name,
            },
            now,
        ),
        (REVERT_FREE_UPGRADE, f"{key}:revert", {**common, "upgrade_key": key}, ends),
    ):
        outbox.enqueue(
            session,
            kind=kind,
            idempotency_key=message_key,
            payload=payload,
            now=now,
            customer_id=customer.id,
            deliver_at=at,
        )
    redemption.outbox_message_id = _message_id(session, key)
    redemption.status = RedemptionStatus.PENDING
    redemption.result = {
        "price_id": params["price_id"],
        "months": params["months"],
        "ends_at": ends.isoformat(),
    }


def _message_id(session: Session, key: str) -> int:
    return int(
        session.execute(select(OUTBOX.c.id).where(OUTBOX.c.idempotency_key == key)).scalar_one()
    )


def get_redemption(session: Session, *, redemption_id: int, lock: bool = False) -> RewardRedemption:
    stmt = select(RewardRedemption).where(RewardRedemption.id == redemption_id)  # type: ignore[arg-type]
    found = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if found is None:
        raise RedemptionNotFound(f"no redemption {redemption_id}")
    return found


def cancel(session: Session, *, redemption_id: int, now: datetime) -> RewardRedemption:
    """Give the points back (a new lot), put the item back in stock and undo an account credit
    that is still unused. Cancelling twice changes nothing."""
    redemption = get_redemption(session, redemption_id=redemption_id, lock=True)
    if redemption.status == RedemptionStatus.CANCELLED:
        return redemption
    item = session.get(RewardItem, redemption.item_id, with_for_update=True)
    assert item is not None
    assert redemption.id is not None
    if item.kind == RewardKind.ACCOUNT_CREDIT:
        ref = f"redemption:{redemption.id}"
        used = session.execute(
            select(func.sum(LOTS.c.amount - LOTS.c.remaining)).where(
                LOTS.c.source_kind == SourceKind.REDEMPTION, LOTS.c.source_ref == ref
            )
        ).scalar()
        if used:
            raise CreditAlreadyUsed(
                "the reward's credit was already used: it cannot be cancelled",
                details={"used_minor": int(used)},
            )
        ledger.reverse_source(
            session,
            source_kind=SourceKind.REDEMPTION,
            source_ref=ref,
            reason=f"reward cancelled: {item.name}",
            now=now,
            policy=ReversalPolicy.CLAW_BACK_TO_ZERO,
        )
    elif item.kind == RewardKind.SET_TRAIT and "previous" in redemption.result:
        customer = session.get(Customer, redemption.customer_id, with_for_update=True)
        assert customer is not None
        change = SetTrait(trait=redemption.result["trait"], value=redemption.result["previous"])
        set_customer_trait(customer, change, now)
    elif item.kind == RewardKind.PLAN_UPGRADE:
        _end_upgrade_now(session, redemption, now)
    refund = ledger.grant(
        session,
        customer_id=redemption.customer_id,
        unit="points",
        amount=redemption.points,
        reason=f"reward cancelled: {item.name}",
        source_kind=SourceKind.REDEMPTION,
        source_ref=f"redemption:{redemption.id}:cancelled",
        now=now,
    )
    if item.stock is not None:
        item.stock += 1
    redemption.status = RedemptionStatus.CANCELLED
    redemption.refund_entry_id = refund.id
    redemption.updated_at = now
    session.flush()
    return redemption


def _end_upgrade_now(session: Session, redemption: RewardRedemption, now: datetime) -> None:
    """Cancelling a free upgrade brings its way back forward to now (once the upgrade itself has
    an outcome: a revert queued before it could overtake it)."""
    status = fulfilment_status(session, redemption)
    if status == "pending":
        raise UpgradeInFlight(
            "the upgrade is still being applied; cancel it once it is delivered or failed",
            details={"status": status},
        )
    revert = f"reward-redemption:{redemption.id}:revert"
    if status == "failed":  # never applied: nothing to undo
        session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.idempotency_key == revert, OUTBOX.c.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.DEAD, last_error="the upgrade failed; nothing to revert")
        )
        return
    session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.idempotency_key == revert, OUTBOX.c.status == OutboxStatus.PENDING)
        .values(next_attempt_at=now)
    )


def retry(session: Session, *, redemption_id: int, now: datetime) -> RewardRedemption:
    """Send a failed (dead-lettered) webhook fulfilment again."""
    redemption = get_redemption(session, redemption_id=redemption_id, lock=True)
    if redemption.outbox_message_id is None or fulfilment_status(session, redemption) != "failed":
        raise NothingToRetry(
            f"redemption {redemption_id} has no failed fulfilment to retry",
            details={"status": fulfilment_status(session, redemption)},
        )
    outbox.retry_one(session, message_id=redemption.outbox_message_id, now=now)
    redemption.updated_at = now
    session.flush()
    return redemption


def fulfilment_status(session: Session, redemption: RewardRedemption) -> str:
    if redemption.status != RedemptionStatus.PENDING or redemption.outbox_message_id is None:
        return str(redemption.status)
    status = session.execute(
        select(OUTBOX.c.status).where(OUTBOX.c.id == redemption.outbox_message_id)
    ).scalar_one()
    return {OutboxStatus.DELIVERED: "delivered", OutboxStatus.DEAD: "failed"}.get(status, "pending")


def customer_redemptions(session: Session, *, customer_id: int) -> list[RewardRedemption]:
    stmt = (
        select(RewardRedemption)
        .where(RewardRedemption.customer_id == customer_id)  # type: ignore[arg-type]
        .order_by(RewardRedemption.id.desc())  # type: ignore[union-attr]
        .limit(200)
    )
    return list(session.execute(stmt).scalars())
