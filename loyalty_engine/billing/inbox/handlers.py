"""What each Stripe event becomes: our events, through the one door (`ingest_internal`, source
`stripe`), stamped with Stripe's `created` so that an older event never overwrites newer traits,
and keyed so that any number of deliveries has one effect.

- `invoice.paid`: `invoice_paid` (amount, currency, subscription, `first_paid_invoice`);
- `invoice.upcoming`, `invoice.created`: `invoice_upcoming` (the renewal discount goes on it);
- `customer.subscription.created|updated|deleted`: `subscription_updated` (plan, MRR, currency,
  renewal date, status), `subscription_started`, and `subscription_canceled` (churn);
- `charge.refunded`, `charge.dispute.created`: `payment_refunded` (naming the `invoice_paid`
  event whose grants a `reverse_grants` rule takes back);
- `customer.created|updated`: links the Stripe customer to ours (`traits_updated` with
  `billing_customer_id`), and redoes the events that waited for that link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_engine.billing.inbox.models import InboxStatus
from loyalty_engine.customers.models import Customer
from loyalty_engine.events.models import Event
from loyalty_engine.events.reactors import ReactorRegistry
from loyalty_engine.events.service import InternalEvent, ingest_internal

SOURCE = "stripe"
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
# Months per interval, as fractions: MRR is normalised with integer arithmetic only.
MONTHS_PER = {
    "day": Fraction(12, 365),
    "week": Fraction(12, 52),
    "month": Fraction(1),
    "year": Fraction(12),
}


@dataclass
class Context:
    reactors: ReactorRegistry
    now: datetime
    linked: list[str] = field(default_factory=list)  # Stripe customers newly linked


@dataclass(frozen=True, slots=True)
class Outcome:
    status: InboxStatus
    result: dict[str, Any]


Handler = Callable[[Session, Context, Mapping[str, Any]], Outcome]


def handle(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    handler = HANDLERS.get(str(event.get("type")))
    if handler is None:
        return Outcome(InboxStatus.IGNORED, {"reason": f"{event.get('type')} is not handled"})
    return handler(session, ctx, event)


def stripe_customer_of(event: Mapping[str, Any]) -> str | None:
    """The Stripe customer an event concerns, when the object names one."""
    obj = event.get("data", {}).get("object", {})
    if obj.get("object") == "customer":
        return _id(obj.get("id"))
    return _id(obj.get("customer"))


# -- customers ---------------------------------------------------------------------------------


def link_customer(session: Session, stripe_customer: Mapping[str, Any], ctx: Context) -> str | None:
    """Our customer (external id) for a Stripe customer: by billing id, else by the metadata
    `loyalty_customer_id`/`external_id`, else by email when exactly one customer without a
    billing id has it. A new link is made through a `traits_updated` event."""
    billing_id = _id(stripe_customer.get("id"))
    if billing_id is None:
        return None
    known = _by_billing_id(session, billing_id)
    if known is not None:
        return known
    metadata = stripe_customer.get("metadata") or {}
    wanted = metadata.get("loyalty_customer_id") or metadata.get("external_id")
    found: str | None = None
    if wanted:
        found = session.execute(
            select(CUSTOMERS.c.external_id).where(
                CUSTOMERS.c.external_id == str(wanted), CUSTOMERS.c.billing_customer_id.is_(None)
            )
        ).scalar_one_or_none()
    email = stripe_customer.get("email")
    if found is None and isinstance(email, str) and email:
        matches = session.execute(
            select(CUSTOMERS.c.external_id)
            .where(
                func.lower(CUSTOMERS.c.email) == email.lower(),
                CUSTOMERS.c.billing_customer_id.is_(None),
            )
            .limit(2)
        ).scalars()
        candidates = list(matches)
        found = candidates[0] if len(candidates) == 1 else None
    if found is None:
        return None
    ingest_internal(
        session,
        events=[
            InternalEvent(
                "traits_updated",
                found,
                {"traits": {"billing_customer_id": billing_id}},
                f"stripe-link:{billing_id}",
            )
        ],
        source=SOURCE,
        reactors=ctx.reactors,
        now=ctx.now,
    )
    ctx.linked.append(billing_id)
    return found


def _customer_event(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    obj = event["data"]["object"]
    linked = link_customer(session, obj, ctx)
    if linked is None:
        return Outcome(InboxStatus.UNLINKED, {"reason": "no customer of ours matches"})
    return Outcome(InboxStatus.PROCESSED, {"customer": linked})


# -- subscriptions -----------------------------------------------------------------------------


def subscription_traits(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """Our traits from a Stripe subscription: `plan` (the first item's price `lookup_key`, else
    its nickname, else its id), `mrr_minor` (every item's unit amount times quantity per month,
    integers only, rounded half to even), `currency`, `renewal_on` (the items' earliest period
    end) and `status`. A canceled subscription has no MRR and no renewal date."""
    items = (subscription.get("items") or {}).get("data") or []
    status = str(subscription.get("status") or "active")
    prices = [item.get("price") or {} for item in items]
    first = prices[0] if prices else {}
    plan = first.get("lookup_key") or first.get("nickname") or first.get("id")
    monthly = Fraction(0)
    for item, price in zip(items, prices, strict=True):
        recurring = price.get("recurring") or {}
        per = MONTHS_PER.get(recurring.get("interval", "month"), Fraction(1))
        count = int(recurring.get("interval_count") or 1)
        amount = int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1)
        monthly += Fraction(amount) / (per * count)
    ends = [int(i["current_period_end"]) for i in items if i.get("current_period_end")]
    if not ends and subscription.get("current_period_end"):  # API versions before 2025
        ends = [int(subscription["current_period_end"])]
    active = status not in ("canceled", "incomplete_expired")
    currency = subscription.get("currency") or first.get("currency")
    return {
        "plan": plan,
        "mrr_minor": round(monthly) if active else 0,
        "currency": str(currency).lower() if currency else None,
        "renewal_on": _date(min(ends)).isoformat() if ends and active else None,
        "status": status,
    }


def _subscription_event(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    obj = event["data"]["object"]
    external = _by_billing_id(session, _id(obj.get("customer")))
    if external is None:
        return Outcome(InboxStatus.UNLINKED, {"reason": "no customer of ours has it yet"})
    traits = subscription_traits(obj)
    at = _created(event, ctx.now)
    ours = [
        InternalEvent(
            "subscription_updated",
            external,
            {"subscription_id": obj.get("id"), **traits},
            f"stripe:{event['id']}:subscription_updated",
            at,
        )
    ]
    if event["type"] == "customer.subscription.created":
        ours.append(
            InternalEvent(
                "subscription_started",
                external,
                {"plan": traits["plan"], "renewal_on": traits["renewal_on"]},
                f"stripe:subscription_started:{obj.get('id')}",
                at,
            )
        )
    if event["type"] == "customer.subscription.deleted" or traits["status"] == "canceled":
        details = obj.get("cancellation_details") or {}
        ours.append(
            InternalEvent(
                "subscription_canceled",
                external,
                {
                    "subscription_id": obj.get("id"),
                    "reason": details.get("reason"),
                    "feedback": details.get("feedback"),
                },
                f"stripe:subscription_canceled:{obj.get('id')}",
                at,
            )
        )
    return _ingest(session, ctx, ours, external)


# -- invoices ----------------------------------------------------------------------------------


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """Since API version 2025-03-31 at `parent.subscription_details.subscription`."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def invoice_payment_intent(invoice: Mapping[str, Any]) -> str | None:
    payments = (invoice.get("payments") or {}).get("data") or []
    for payment in payments:
        intent = _id((payment.get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    return _id(invoice.get("payment_intent"))


def _invoice_paid(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    invoice = event["data"]["object"]
    external = _by_billing_id(session, _id(invoice.get("customer")))
    if external is None:
        return Outcome(InboxStatus.UNLINKED, {"reason": "no customer of ours has it yet"})
    reason = invoice.get("billing_reason")
    earlier = session.execute(
        select(func.count())
        .select_from(EVENTS)
        .join(CUSTOMERS, CUSTOMERS.c.id == EVENTS.c.customer_id)
        .where(
            CUSTOMERS.c.external_id == external,
            EVENTS.c.type == "invoice_paid",
            EVENTS.c.source == SOURCE,
            EVENTS.c.occurred_at < _created(event, ctx.now),
        )
    ).scalar_one()
    properties = {
        "invoice_id": invoice.get("id"),
        "amount_minor": int(invoice.get("amount_paid") or 0),
        "currency": str(invoice.get("currency") or "").lower() or None,
        "subscription_id": invoice_subscription(invoice),
        "billing_reason": reason,
        "payment_intent": invoice_payment_intent(invoice),
        # Unordered delivery: the subscription's creation invoice is first whatever arrives
        # first; otherwise first when no invoice of this customer was paid before it.
        "first_paid_invoice": reason == "subscription_create" or earlier == 0,
    }
    paid = InternalEvent(
        "invoice_paid",
        external,
        properties,
        paid_key(str(invoice.get("id"))),
        _created(event, ctx.now),
    )
    return _ingest(session, ctx, [paid], external)


def paid_key(invoice_id: str) -> str:
    """The `invoice_paid` event's idempotency key: one per invoice, however it is delivered."""
    return f"invoice_paid:{invoice_id}"


def _invoice_upcoming(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    invoice = event["data"]["object"]
    external = _by_billing_id(session, _id(invoice.get("customer")))
    if external is None:
        return Outcome(InboxStatus.UNLINKED, {"reason": "no customer of ours has it yet"})
    subscription = invoice_subscription(invoice)
    if subscription is None:
        return Outcome(InboxStatus.IGNORED, {"reason": "not a subscription invoice"})
    period_end = invoice.get("period_end") or invoice.get("next_payment_attempt") or 0
    properties = {
        "subscription_id": subscription,
        "invoice_id": invoice.get("id"),
        "amount_due_minor": int(invoice.get("amount_due") or 0),
        "currency": str(invoice.get("currency") or "").lower() or None,
        "billing_reason": invoice.get("billing_reason"),
        "period_end": _date(int(period_end)).isoformat() if period_end else None,
    }
    key = f"invoice_upcoming:{subscription}:{properties['period_end'] or event['id']}"
    upcoming = InternalEvent(
        "invoice_upcoming", external, properties, key, _created(event, ctx.now)
    )
    return _ingest(session, ctx, [upcoming], external)


# -- refunds and disputes ----------------------------------------------------------------------


def _payment_refunded(session: Session, ctx: Context, event: Mapping[str, Any]) -> Outcome:
    obj = event["data"]["object"]
    dispute = obj.get("object") == "dispute"
    intent = _id(obj.get("payment_intent"))
    charge = _id(obj.get("charge")) if dispute else _id(obj.get("id"))
    paid = _paid_event(session, intent, _id(obj.get("invoice")))
    external = _by_billing_id(session, _id(obj.get("customer"))) or (paid[0] if paid else None)
    if external is None:
        return Outcome(InboxStatus.UNLINKED, {"reason": "no customer of ours paid this charge"})
    if dispute:
        amount = int(obj.get("amount") or 0)
    else:
        before = (event.get("data", {}).get("previous_attributes") or {}).get("amount_refunded")
        amount = int(obj.get("amount_refunded") or 0) - int(before or 0)
    properties = {
        "reason": "dispute" if dispute else "refund",
        "charge_id": charge,
        "payment_intent": intent,
        "invoice_id": paid[1] if paid else None,
        "invoice_paid_key": paid_key(paid[1]) if paid else None,
        "amount_minor": amount,
        "currency": str(obj.get("currency") or "").lower() or None,
        "full": bool(obj.get("refunded")) or dispute,
    }
    refunded = InternalEvent(
        "payment_refunded", external, properties, f"stripe:{event['id']}", _created(event, ctx.now)
    )
    return _ingest(session, ctx, [refunded], external)


def _paid_event(
    session: Session, intent: str | None, invoice_id: str | None
) -> tuple[str, str] | None:
    """(customer external id, invoice id) of the `invoice_paid` event behind a payment."""
    if invoice_id is None and intent is None:
        return None
    stmt = (
        select(CUSTOMERS.c.external_id, EVENTS.c.properties["invoice_id"].as_string())
        .join(CUSTOMERS, CUSTOMERS.c.id == EVENTS.c.customer_id)
        .where(EVENTS.c.type == "invoice_paid", EVENTS.c.source == SOURCE)
        .limit(1)
    )
    if invoice_id is not None:
        stmt = stmt.where(EVENTS.c.idempotency_key == paid_key(invoice_id))
    else:
        stmt = stmt.where(EVENTS.c.properties["payment_intent"].as_string() == intent)
    row = session.execute(stmt).first()
    return (str(row[0]), str(row[1])) if row is not None else None


# -- helpers -----------------------------------------------------------------------------------


def _ingest(session: Session, ctx: Context, events: list[InternalEvent], external: str) -> Outcome:
    results = ingest_internal(
        session, events=events, source=SOURCE, reactors=ctx.reactors, now=ctx.now
    )
    outcomes = [r.status.value for r in results]
    rejected = [r.error for r in results if r.error]
    if rejected:
        raise ValueError(f"our events were rejected: {rejected}")
    return Outcome(
        InboxStatus.PROCESSED,
        {"customer": external, "events": [e.type for e in events], "outcomes": outcomes},
    )


def customer_of(session: Session, stripe_customer: Any) -> str | None:
    """Our customer's external id for a Stripe customer (id or object), if linked."""
    return _by_billing_id(session, _id(stripe_customer))


def _by_billing_id(session: Session, billing_id: str | None) -> str | None:
    if billing_id is None:
        return None
    found = session.execute(
        select(CUSTOMERS.c.external_id).where(CUSTOMERS.c.billing_customer_id == billing_id)
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


def _created(event: Mapping[str, Any], now: datetime | None = None) -> datetime:
    """Stripe's `created`, but never ahead of our clock (a Stripe clock a little ahead of ours
    would otherwise have the event refused as from the future)."""
    created = datetime.fromtimestamp(int(event["created"]), UTC)
    return created if now is None else min(created, now)


def _date(unix: int) -> date:
    return datetime.fromtimestamp(unix, UTC).date()


HANDLERS: dict[str, Handler] = {
    "invoice.paid": _invoice_paid,
    "invoice.upcoming": _invoice_upcoming,
    "invoice.created": _invoice_upcoming,
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
    "charge.refunded": _payment_refunded,
    "charge.dispute.created": _payment_refunded,
    "customer.created": _customer_event,
    "customer.updated": _customer_event,
}
