"""The Stripe gateway against the Stripe emulator, through the real SDK: credits, reversals,
renewal discounts beside existing ones, free upgrades and their way back, errors, and credits
that reach Stripe exactly once however the calls fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import stripe

from loyalty_engine.billing.gateway import BillingError, FailureKind
from loyalty_engine.billing.stripe_gateway import StripeGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.outbox.worker import WorkerReport
from loyalty_engine.runtime import Runtime
from rewards.transfers import TransferReport
from tests.billing.conftest import Grant
from tests.billing.test_transfers import transfers
from tests.stripe_emulator.emulator import StripeEmulator


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        outbox_backoff_base_seconds=1.0,
        outbox_max_attempts=10,
        billing_apply_credits=True,
    )


@pytest.fixture
def billing(stripe_client: stripe.StripeClient) -> StripeGateway:  # the app's gateway
    return StripeGateway(stripe_client, writes_per_second=100)


@pytest.fixture
def stripe_customer(stripe_client: stripe.StripeClient) -> str:
    return stripe_client.v1.customers.create(params={"email": "ops@acme.test"}).id


def subscribe(
    emulator: StripeEmulator, client: stripe.StripeClient, customer: str, **params: Any
) -> stripe.Subscription:
    emulator.add_price("price_team", 10_000)
    emulator.add_price("price_pro", 25_000)
    return client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": "price_team"}], **params}
    )


def test_a_credit_and_its_reversal_are_balance_transactions_with_stripes_sign(
    billing: StripeGateway, stripe_customer: str, stripe_emulator: StripeEmulator
) -> None:
    credit = billing.apply_credit(
        billing_customer_id=stripe_customer,
        amount_minor=500,
        currency="USD",
        description="Referral credit",
        idempotency_key="billing-transfer:1",
        metadata={"loyalty_transfer_id": "1"},
    )
    assert credit.external_id.startswith("cbtxn_")
    assert credit.details["ending_balance"] == -500
    billing.reverse_credit(
        billing_customer_id=stripe_customer,
        amount_minor=200,
        currency="usd",
        description="Refunded",
        idempotency_key="billing-transfer:2",
        metadata={"loyalty_transfer_id": "2"},
    )
    assert stripe_emulator.customer(stripe_customer)["balance"] == -300
    changes = billing.balance_changes(stripe_customer)
    assert [(c.amount, c.transfer_id) for c in changes] == [(-500, 1), (200, 2)]
    assert billing.customer_currency(stripe_customer) == "usd"


def test_a_currency_other_than_the_customers_is_refused_before_any_write(
    billing: StripeGateway, stripe_customer: str, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.add_balance_transaction(stripe_customer, -100, "eur")
    writes = stripe_emulator.effects("POST", "/v1/")
    with pytest.raises(BillingError) as refused:
        billing.apply_credit(
            billing_customer_id=stripe_customer,
            amount_minor=500,
            currency="usd",
            description="credit",
            idempotency_key="k",
        )
    assert refused.value.kind is FailureKind.PERMANENT
    assert "differs from the Stripe customer's currency eur" in str(refused.value)
    assert stripe_emulator.effects("POST", "/v1/") == writes


def test_a_renewal_discount_joins_the_subscriptions_discounts_once(
    billing: StripeGateway,
    stripe_client: stripe.StripeClient,
    stripe_customer: str,
    stripe_emulator: StripeEmulator,
) -> None:
    stripe_client.v1.coupons.create(
        params={"id": "partner", "percent_off": 5, "duration": "forever"}
    )
    sub = subscribe(
        stripe_emulator, stripe_client, stripe_customer, discounts=[{"coupon": "partner"}]
    )
    # Stripe applies it but the answer is lost: the retry completes without a second discount.
    stripe_emulator.faults.inject("drop_response", path_prefix=f"/v1/subscriptions/{sub.id}")
    with pytest.raises(BillingError) as lost:
        billing.apply_renewal_discount(
            billing_customer_id=stripe_customer,
            subscription_id=None,
            percent_off_bps=1_550,
            description="Year-one renewal 15.5%",
            idempotency_key="renewal-discount:1:2027-03-01",
        )
    assert lost.value.kind is FailureKind.RETRY
    result = billing.apply_renewal_discount(
        billing_customer_id=stripe_customer,
        subscription_id=None,
        percent_off_bps=1_550,
        description="Year-one renewal 15.5%",
        idempotency_key="renewal-discount:1:2027-03-01",
    )
    after = stripe_emulator.subscription(sub.id)
    coupons = [d["source"]["coupon"] for d in after["discounts"]]
    assert coupons[0] == "partner"  # kept
    assert len(coupons) == 2
    assert result.external_id == after["discounts"][1]["id"]
    coupon = stripe_emulator.coupons[coupons[1]]
    assert (coupon["percent_off"], coupon["duration"]) == (15.5, "once")

    invoice = stripe_emulator.create_renewal_invoice(sub.id)
    assert [d["amount"] for d in invoice["total_discount_amounts"]] == [500, 1_472]
    second = stripe_emulator.create_renewal_invoice(sub.id)
    assert [d["amount"] for d in second["total_discount_amounts"]] == [500]  # once: used up


def test_a_renewal_discount_needs_an_active_subscription_of_that_customer(
    billing: StripeGateway,
    stripe_client: stripe.StripeClient,
    stripe_customer: str,
    stripe_emulator: StripeEmulator,
) -> None:
    with pytest.raises(BillingError, match="no active subscription") as none:
        billing.apply_renewal_discount(
            billing_customer_id=stripe_customer,
            subscription_id=None,
            percent_off_bps=1_000,
            description="d",
            idempotency_key="k1",
        )
    assert none.value.kind is FailureKind.PERMANENT
    other = stripe_client.v1.customers.create(params={}).id
    theirs = subscribe(stripe_emulator, stripe_client, other)
    with pytest.raises(BillingError, match="belongs to another Stripe customer"):
        billing.apply_renewal_discount(
            billing_customer_id=stripe_customer,
            subscription_id=theirs.id,
            percent_off_bps=1_000,
            description="d",
            idempotency_key="k2",
        )


def test_a_free_upgrade_and_its_way_back(
    billing: StripeGateway,
    stripe_client: stripe.StripeClient,
    stripe_customer: str,
    stripe_emulator: StripeEmulator,
) -> None:
    sub = subscribe(stripe_emulator, stripe_client, stripe_customer)
    applied = billing.apply_free_upgrade(
        billing_customer_id=stripe_customer,
        subscription_id=None,
        price_id="price_pro",
        months=3,
        description="Pro for 3 months",
        idempotency_key="reward-redemption:9",
    )
    assert applied.details == {"subscription_id": sub.id, "previous_price_id": "price_team"}
    upgraded = stripe_emulator.subscription(sub.id)
    assert upgraded["items"]["data"][0]["price"]["id"] == "price_pro"
    invoice = stripe_emulator.create_renewal_invoice(sub.id)
    assert invoice["total"] == 10_000  # the better plan at the old price
    again = billing.apply_free_upgrade(
        billing_customer_id=stripe_customer,
        subscription_id=None,
        price_id="price_pro",
        months=3,
        description="Pro for 3 months",
        idempotency_key="reward-redemption:9",
    )
    assert again.details["previous_price_id"] == "price_team"
    assert len(stripe_emulator.subscription(sub.id)["discounts"]) == 1

    billing.revert_free_upgrade(
        billing_customer_id=stripe_customer,
        subscription_id=None,
        upgrade_key="reward-redemption:9",
        idempotency_key="reward-redemption:9:revert",
    )
    back = stripe_emulator.subscription(sub.id)
    assert back["items"]["data"][0]["price"]["id"] == "price_team"
    assert back["discounts"] == []
    assert back["metadata"] == {}
    noop = billing.revert_free_upgrade(
        billing_customer_id=stripe_customer,
        subscription_id=None,
        upgrade_key="reward-redemption:9",
        idempotency_key="reward-redemption:9:revert",
    )
    assert noop.details == {"reverted": False}
    with pytest.raises(BillingError, match="not an upgrade"):
        billing.apply_free_upgrade(
            billing_customer_id=stripe_customer,
            subscription_id=sub.id,
            price_id="price_team",
            months=1,
            description="d",
            idempotency_key="k",
        )


def test_stripe_refusing_our_key_is_an_authentication_failure(
    billing: StripeGateway, stripe_customer: str, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.revoke_key()
    with pytest.raises(BillingError) as refused:
        billing.customer_currency(stripe_customer)
    assert refused.value.kind is FailureKind.AUTHENTICATION


def test_a_credit_reaches_stripe_exactly_once_under_injected_faults(
    runtime: Runtime,
    clock: FrozenClock,
    make_customer: Callable[..., dict[str, object]],
    stripe_customer: str,
    stripe_emulator: StripeEmulator,
    grant: Grant,
    transfer: Callable[[], TransferReport],
    deliver: Callable[[], WorkerReport],
) -> None:
    make_customer("acme", billing_customer_id=stripe_customer)
    grant(2_500)
    transfer()
    path = f"/v1/customers/{stripe_customer}/balance_transactions"
    stripe_emulator.faults.inject("500", path_prefix=path)
    stripe_emulator.faults.inject("429", path_prefix=path, retry_after=30)
    stripe_emulator.faults.inject("drop_response", path_prefix=path, times=2)
    outcomes = []
    for _ in range(6):
        report = deliver()
        outcomes.append((report.delivered, report.retried))
        clock.advance(timedelta(minutes=5))
        if report.delivered:
            break
    assert outcomes[-1] == (1, 0), outcomes
    assert sum(retried for _, retried in outcomes) == 4  # 500, 429, and two lost answers
    txns = stripe_emulator.balance_transactions(stripe_customer)
    assert [t["amount"] for t in txns] == [-2_500]
    assert stripe_emulator.customer(stripe_customer)["balance"] == -2_500
    transfer()
    [row] = transfers(runtime)
    assert row.external_id == txns[0]["id"]
    assert txns[0]["metadata"]["loyalty_transfer_id"] == str(row.id)


def test_a_renewal_discount_goes_on_a_draft_invoice_once_and_on_the_subscription_after(
    billing: StripeGateway,
    stripe_client: stripe.StripeClient,
    stripe_customer: str,
    stripe_emulator: StripeEmulator,
) -> None:
    sub = subscribe(stripe_emulator, stripe_client, stripe_customer)
    draft = stripe_emulator.create_draft_invoice(sub.id)

    def apply(invoice: str, key: str) -> Any:
        return billing.apply_renewal_discount(
            billing_customer_id=stripe_customer,
            subscription_id=sub.id,
            percent_off_bps=1_000,
            description="Renewal 10%",
            idempotency_key=key,
            invoice_id=invoice,
        )

    stripe_emulator.faults.inject("drop_response", path_prefix=f"/v1/invoices/{draft['id']}")
    with pytest.raises(BillingError):
        apply(draft["id"], "renewal-discount:1:2027-01-01")
    first = apply(draft["id"], "renewal-discount:1:2027-01-01")
    assert first.details["invoice_id"] == draft["id"]
    assert stripe_emulator.invoices[draft["id"]]["discounts"] == [first.external_id]
    assert stripe_emulator.subscription(sub.id)["discounts"] == []

    stripe_emulator.finalize_invoice(draft["id"])
    later = apply(draft["id"], "renewal-discount:1:2027-02-01")  # too late for that invoice
    assert later.details["subscription_id"] == sub.id
    assert len(stripe_emulator.subscription(sub.id)["discounts"]) == 1
