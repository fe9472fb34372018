"""The `apply_renewal_discount` rule action: ask the billing gateway (through the outbox) to take
the customer's renewal discount off their next renewal invoice, once per renewal date."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from sqlalchemy import select

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
    customer = ctx.session.execute(
        select(CUSTOMERS.c.billing_customer_id, CUSTOMERS.c.renewal_on).where(
            CUSTOMERS.c.id == ctx.customer_id
        )
    ).one()
    if customer.billing_customer_id is None:
        return {"enqueued": False, "refused": "the customer has no billing_customer_id"}
    discount = params.discount_bps
    reasons: list[str] = []
    if discount is None:
        found, combination, cap = discounts_for(ctx.session, ctx.facts.get("customer", {}))
        discount = combine(found, combination=combination, cap_bps=cap)
        reasons = [c.reason for c in found]
    if discount == 0:
        return {"enqueued": False, "refused": "no renewal discount applies to this customer"}
    renewal = customer.renewal_on.isoformat() if customer.renewal_on else "next"
    enqueued = outbox.enqueue(
        ctx.session,
        kind=APPLY_RENEWAL_DISCOUNT,
        idempotency_key=f"renewal-discount:{ctx.customer_id}:{renewal}",
        payload={
            "billing_customer_id": customer.billing_customer_id,
            "percent_off_bps": discount,
            "description": params.description,
            "renewal_on": renewal,
        },
        now=ctx.now,
        customer_id=ctx.customer_id,
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
