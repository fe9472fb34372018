"""A year-one customer's renewal, through Stripe, with a frozen clock.

Stripe tells us about the subscription by webhook; 30 days before the renewal the sweep announces
it, the renewal rule asks for the year-one discount, and the billing gateway puts a `once` coupon
on the Stripe subscription. Stripe's own `invoice.upcoming` (twice, as Stripe resends) asks for the
same discount again; the sweep runs again the next day. The renewal invoice carries the discount
exactly once, and the invoice after it none."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.billing.delivery import APPLY_RENEWAL_DISCOUNT
from loyalty_engine.billing.inbox.service import process_pending
from loyalty_engine.billing.stripe_gateway import StripeGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime, install
from rewards.renewals.jobs import announce_renewals
from tests.renewals.test_renewals import YEAR_ONE
from tests.stripe_emulator.emulator import StripeEmulator
from tests.stripe_emulator.fixtures import stripe_client, stripe_emulator  # noqa: F401

SECRET = "whsec_scenario"
POLICIES = {
    "policies": [
        {"key": "y1", "name": "Year one: 15% off", "segment": "year-one", "discount_bps": 1_500}
    ]
}
RENEWAL_RULE = {
    "key": "renewal-discount",
    "name": "Put the renewal discount on the renewal invoice",
    "triggers": ["renewal_upcoming"],
    "condition": True,
    "actions": [{"type": "apply_renewal_discount", "params": {}}],
    "activate": True,
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, stripe_webhook_secret=SECRET)


@pytest.fixture
def billing(stripe_client: stripe.StripeClient) -> StripeGateway:  # noqa: F811
    return StripeGateway(stripe_client)


class Stripe:
    """Stripe's side: the emulator, whose webhooks reach our endpoint signed."""

    def __init__(self, emulator: StripeEmulator, client: TestClient, runtime: Runtime) -> None:
        self.emulator, self.client, self.runtime = emulator, client, runtime
        self.sent = 0

    def deliver_new_events(self) -> None:
        for event in self.emulator.events[self.sent :]:
            payload = json.dumps(event).encode()
            signature = self.emulator.sign(payload, SECRET, self.emulator.now())
            response = self.client.post(
                "/v1/billing/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": signature},
            )
            assert response.status_code == 200, response.text
        self.sent = len(self.emulator.events)
        process_pending(self.runtime)

    def upcoming_invoice(self, subscription: dict[str, Any]) -> None:
        """Stripe's `invoice.upcoming` preview (no id), a few days before the renewal."""
        item = subscription["items"]["data"][0]
        self.emulator.build_event(
            "invoice.upcoming",
            {
                "id": None,
                "object": "invoice",
                "customer": subscription["customer"],
                "billing_reason": "upcoming",
                "amount_due": item["price"]["unit_amount"],
                "currency": "usd",
                "period_end": item["current_period_end"],
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": subscription["id"]},
                },
            },
        )


def test_a_year_one_renewal_gets_its_segment_discount_on_the_stripe_invoice_once(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
    stripe_client: stripe.StripeClient,  # noqa: F811
    stripe_emulator: StripeEmulator,  # noqa: F811
) -> None:
    install(runtime)
    stripe = Stripe(stripe_emulator, client, runtime)
    worker = OutboxWorker(runtime)
    assert client.post("/v1/segments", json=YEAR_ONE, headers=admin).status_code == 201
    assert client.put("/v1/renewal-discounts", json=POLICIES, headers=admin).status_code == 200
    assert client.post("/v1/rules", json=RENEWAL_RULE, headers=admin).status_code == 201
    assert client.put("/v1/customers/acme", json={"name": "Acme"}, headers=admin).status_code in (
        200,
        201,
    )

    # Day 0: Acme subscribes in Stripe (a yearly plan); the webhooks link and describe it.
    stripe_emulator.add_price("price_team_year", 120_000, interval="year", lookup_key="team")
    customer = stripe_client.v1.customers.create(
        params={"metadata": {"loyalty_customer_id": "acme"}}
    )
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": "price_team_year"}]}
    )
    stripe.deliver_new_events()
    acme = client.get("/v1/customers/acme", headers=admin).json()
    assert acme["billing_customer_id"] == customer.id
    assert (acme["plan"], acme["mrr_minor"]) == ("team", 10_000)
    renewal_on = acme["renewal_on"]
    assert renewal_on == (clock.now() + timedelta(days=365)).date().isoformat()

    # Day 334: nothing yet. Day 335: 30 days out, the sweep announces the renewal.
    clock.advance(timedelta(days=334))
    assert announce_renewals() == 0
    clock.advance(timedelta(days=1))
    assert announce_renewals() == 1
    assert worker.run_once().delivered == 1
    on_stripe = stripe_emulator.subscription(subscription.id)
    [discount] = on_stripe["discounts"]
    coupon = stripe_emulator.coupons[discount["source"]["coupon"]]
    assert (coupon["percent_off"], coupon["duration"]) == (15.0, "once")

    # Day 336: the sweep again; day 362: Stripe's invoice.upcoming, twice. One discount still.
    clock.advance(timedelta(days=1))
    assert announce_renewals() == 0
    clock.advance(timedelta(days=26))
    stripe.upcoming_invoice(stripe_emulator.subscription(subscription.id))
    stripe.upcoming_invoice(stripe_emulator.subscription(subscription.id))
    stripe.deliver_new_events()
    worker.run_once()
    assert len(stripe_emulator.subscription(subscription.id)["discounts"]) == 1
    with session_scope(runtime.engine, write=False) as session:
        kinds = session.execute(
            select(OutboxMessage.kind).where(OutboxMessage.kind == APPLY_RENEWAL_DISCOUNT)  # type: ignore[arg-type]
        ).all()
    assert len(kinds) == 1

    # Day 365: the renewal invoice carries 15% off once; the next one does not.
    clock.advance(timedelta(days=3))
    renewal = stripe_emulator.create_renewal_invoice(subscription.id)
    assert [d["amount"] for d in renewal["total_discount_amounts"]] == [18_000]
    assert renewal["amount_due"] == 102_000
    stripe_emulator.pay_invoice(renewal["id"])
    stripe.deliver_new_events()
    acme = client.get("/v1/customers/acme", headers=admin).json()
    assert acme["renewal_on"] > renewal_on  # Stripe's renewal moved the date on
    following = stripe_emulator.create_renewal_invoice(subscription.id)
    assert following["total_discount_amounts"] == []
    creates = stripe_emulator.effects("POST", "/v1/coupons")
    assert creates == 1


def test_a_discount_asked_for_by_invoice_created_lands_on_that_draft_invoice(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
    stripe_client: stripe.StripeClient,  # noqa: F811
    stripe_emulator: StripeEmulator,  # noqa: F811
) -> None:
    """No renewal rule this time: Stripe's `invoice.created` (the draft, an hour before it is
    finalized) is the first ask, too late for the subscription's discounts to reach that
    invoice, so the discount goes on the draft itself."""
    install(runtime)
    stripe = Stripe(stripe_emulator, client, runtime)
    assert client.post("/v1/segments", json=YEAR_ONE, headers=admin).status_code == 201
    assert client.put("/v1/renewal-discounts", json=POLICIES, headers=admin).status_code == 200
    client.put("/v1/customers/acme", json={"name": "Acme"}, headers=admin)
    stripe_emulator.add_price("price_team_month", 10_000, lookup_key="team")
    customer = stripe_client.v1.customers.create(
        params={"metadata": {"loyalty_customer_id": "acme"}}
    )
    subscription = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": "price_team_month"}]}
    )
    stripe.deliver_new_events()

    clock.advance(timedelta(days=30))
    draft = stripe_emulator.create_draft_invoice(subscription.id)
    stripe.deliver_new_events()
    assert OutboxWorker(runtime).run_once().delivered == 1
    assert stripe_emulator.subscription(subscription.id)["discounts"] == []
    [discount_id] = stripe_emulator.invoices[draft["id"]]["discounts"]
    assert stripe_emulator.discounts[discount_id]["invoice"] == draft["id"]

    final = stripe_emulator.finalize_invoice(draft["id"])
    assert [d["amount"] for d in final["total_discount_amounts"]] == [1_500]
    assert final["amount_due"] == 8_500
    following = stripe_emulator.create_renewal_invoice(subscription.id)
    assert following["total_discount_amounts"] == []
