"""The `apply_renewal_discount` rule action: ask the billing gateway (through the outbox) to take
the customer's renewal discount off their next renewal invoice, once per renewal date."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.billing.delivery import APPLY_RENEWAL_DISCOUNT
from loyalty_engine.outbox import service as outbox
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from rewards.renewals.quotes import combine
from rewards.renewals.service import CUSTOMERS, discounts_for


class ApplyRenewalDiscount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    discount_bps: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = Field(
        default=None,
        description="A fixed discount; by default the customer's quote (policies and tier).",
    )
    description: Annotated[str, StringConstraints(max_length=200)] = "Loyalty renewal discount"


def apply_renewal_discount(
    ctx: ActionContext, params: ApplyRenewalDiscount, _: Grant | None
) -> dict[str, Any]:
    return enqueue_renewal_discount(
        ctx.session,
        customer_id=ctx.customer_id,
        customer_facts=ctx.facts.get("customer", {}),
        now=ctx.now,
        discount_bps=params.discount_bps,
        description=params.description,
    )


def enqueue_renewal_discount(
    session: Session,
    *,
    customer_id: int,
    customer_facts: dict[str, Any],
    now: datetime,
    discount_bps: int | None = None,
    description: str = "Loyalty renewal discount",
    subscription_id: str | None = None,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """Queue the customer's renewal discount for the billing gateway, once per renewal date:
    the rule action and Stripe's `invoice.upcoming` share the outbox key, so together they
    have one effect."""
    customer = session.execute(
        select(CUSTOMERS.c.billing_customer_id, CUSTOMERS.c.renewal_on).where(
            CUSTOMERS.c.id == customer_id
        )
    ).one()
    if customer.billing_customer_id is None:
        return {"enqueued": False, "refused": "the customer has no billing_customer_id"}
    discount = discount_bps
    reasons: list[str] = []
    if discount is None:
        found, combination, cap = discounts_for(session, customer_facts)
        discount = combine(found, combination=combination, cap_bps=cap)
        reasons = [c.reason for c in found]
    if discount == 0:
        return {"enqueued": False, "refused": "no renewal discount applies to this customer"}
    renewal = customer.renewal_on.isoformat() if customer.renewal_on else "next"
    payload: dict[str, Any] = {
        "billing_customer_id": customer.billing_customer_id,
        "percent_off_bps": discount,
        "description": description,
        "renewal_on": renewal,
    }
    if subscription_id is not None:
        payload["subscription_id"] = subscription_id
    if invoice_id is not None:  # a renewal invoice still a draft: the discount goes on it
        payload["invoice_id"] = invoice_id
    enqueued = outbox.enqueue(
        session,
        kind=APPLY_RENEWAL_DISCOUNT,
        idempotency_key=f"renewal-discount:{customer_id}:{renewal}",
        payload=payload,
        now=now,
        customer_id=customer_id,
    )
    return {
        "enqueued": enqueued,
        "discount_bps": discount,
        "renewal_on": renewal,
        "reasons": reasons,
    }


def register_renewal_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            "apply_renewal_discount",
            ApplyRenewalDiscount,
            apply_renewal_discount,
            description="Discount the next renewal invoice (through the billing gateway).",
        )
    )
