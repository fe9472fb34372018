"""The emulator keeps Stripe's contract, driven through the real SDK over HTTP."""

from __future__ import annotations

import json

import pytest
import stripe

from loyalty_engine.billing.stripe_gateway import make_client
from tests.stripe_emulator.emulator import StripeEmulator, parse_form


def test_the_bracket_encoding_is_parsed_into_nested_values() -> None:
    parsed = parse_form(
        [
            ("metadata[a]", "1"),
            ("items[0][price]", "p1"),
            ("items[1][price]", "p2"),
            ("items[1][quantity]", "3"),
            ("expand[0]", "discounts"),
            ("discounts", ""),
        ]
    )
    assert parsed == {
        "metadata": {"a": "1"},
        "items": [{"price": "p1"}, {"price": "p2", "quantity": "3"}],
        "expand": ["discounts"],
        "discounts": "",
    }


def test_customers_are_created_read_updated_listed_in_pages_and_deleted(
    stripe_client: stripe.StripeClient,
) -> None:
    made = [
        stripe_client.v1.customers.create(params={"email": f"c{i}@acme.test", "name": f"C{i}"})
        for i in range(5)
    ]
    assert made[0].id.startswith("cus_")
    assert made[0].balance == 0
    updated = stripe_client.v1.customers.update(
        made[0].id, params={"metadata": {"loyalty_customer_id": "acme"}}
    )
    assert updated.metadata["loyalty_customer_id"] == "acme"
    first = stripe_client.v1.customers.list(params={"limit": 2})
    assert first.has_more is True
    assert len(first.data) == 2
    every = list(first.auto_paging_iter())
    assert sorted(c.id for c in every) == sorted(c.id for c in made)
    by_email = stripe_client.v1.customers.list(params={"email": "c3@acme.test"})
    assert [c.id for c in by_email.data] == [made[3].id]
    deleted = stripe_client.v1.customers.delete(made[1].id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as gone:
        stripe_client.v1.customers.balance_transactions.create(
            made[1].id, params={"amount": -1, "currency": "usd"}
        )
    assert gone.value.http_status == 404


def test_balance_transactions_keep_stripes_sign_and_the_customers_currency(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "a@acme.test"})
    credit = stripe_client.v1.customers.balance_transactions.create(
        customer.id,
        params={"amount": -500, "currency": "usd", "metadata": {"loyalty_transfer_id": "7"}},
    )
    assert credit.id.startswith("cbtxn_")
    assert (credit.amount, credit.ending_balance, credit.type) == (-500, -500, "adjustment")
    back = stripe_client.v1.customers.balance_transactions.create(
        customer.id, params={"amount": 200, "currency": "usd"}
    )
    assert back.ending_balance == -300
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -300
    assert stripe_client.v1.customers.retrieve(customer.id).currency == "usd"
    with pytest.raises(stripe.InvalidRequestError) as other:
        stripe_client.v1.customers.balance_transactions.create(
            customer.id, params={"amount": -100, "currency": "eur"}
        )
    assert other.value.param == "currency"
    listed = stripe_client.v1.customers.balance_transactions.list(customer.id)
    assert [t.amount for t in listed.data] == [200, -500]  # newest first
    assert listed.data[1].metadata["loyalty_transfer_id"] == "7"


def test_an_idempotency_key_replays_the_first_answer_and_refuses_other_parameters(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer = stripe_client.v1.customers.create(params={})
    params: stripe.params.CustomerBalanceTransactionCreateParams = {
        "amount": -500,
        "currency": "usd",
    }
    first = stripe_client.v1.customers.balance_transactions.create(
        customer.id, params=params, options={"idempotency_key": "k1"}
    )
    again = stripe_client.v1.customers.balance_transactions.create(
        customer.id, params=params, options={"idempotency_key": "k1"}
    )
    assert again.id == first.id
    assert stripe_emulator.customer(customer.id)["balance"] == -500
    assert stripe_emulator.effects("POST", f"/v1/customers/{customer.id}/balance") == 1
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.customers.balance_transactions.create(
            customer.id,
            params={"amount": -600, "currency": "usd"},
            options={"idempotency_key": "k1"},
        )


def test_injected_faults(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    customer = stripe_client.v1.customers.create(params={})
    path = f"/v1/customers/{customer.id}/balance_transactions"
    params: stripe.params.CustomerBalanceTransactionCreateParams = {
        "amount": -100,
        "currency": "usd",
    }

    stripe_emulator.faults.inject("500", path_prefix=path)
    with pytest.raises(stripe.APIError):
        stripe_client.v1.customers.balance_transactions.create(customer.id, params=params)
    stripe_emulator.faults.inject("429", path_prefix=path, retry_after=7)
    with pytest.raises(stripe.RateLimitError) as limited:
        stripe_client.v1.customers.balance_transactions.create(customer.id, params=params)
    assert limited.value.headers["Retry-After"] == "7"
    assert stripe_emulator.customer(customer.id)["balance"] == 0  # neither had an effect

    stripe_emulator.faults.inject("drop_response", path_prefix=path)
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.customers.balance_transactions.create(
            customer.id, params=params, options={"idempotency_key": "dropped"}
        )
    assert stripe_emulator.customer(customer.id)["balance"] == -100  # it happened
    retried = stripe_client.v1.customers.balance_transactions.create(
        customer.id, params=params, options={"idempotency_key": "dropped"}
    )
    assert retried.id == stripe_emulator.balance_transactions(customer.id)[0]["id"]
    assert stripe_emulator.customer(customer.id)["balance"] == -100

    impatient = make_client(
        stripe_emulator.api_key, api_base=stripe_emulator.url, timeout_seconds=0.3
    )
    stripe_emulator.faults.inject("timeout", path_prefix=path, delay=1.0)
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.balance_transactions.create(
            customer.id, params=params, options={"idempotency_key": "slow"}
        )


def test_a_revoked_key_is_refused(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.revoke_key()
    with pytest.raises(stripe.AuthenticationError):
        stripe_client.v1.customers.create(params={})


def test_a_renewal_invoice_applies_a_once_coupon_then_the_balance_and_uses_the_coupon_up(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.add_price("price_team", 10_000)
    customer = stripe_client.v1.customers.create(params={})
    stripe_client.v1.customers.balance_transactions.create(
        customer.id, params={"amount": -1_000, "currency": "usd"}
    )
    forever = stripe_client.v1.coupons.create(
        params={"id": "partner", "percent_off": 5, "duration": "forever"}
    )
    sub = stripe_client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": "price_team", "quantity": 2}],
            "discounts": [{"coupon": forever.id}],
        }
    )
    once = stripe_client.v1.coupons.create(
        params={"id": "loyal", "percent_off": 15.5, "duration": "once"}
    )
    kept = stripe_client.v1.subscriptions.update(
        sub.id,
        params={
            "discounts": [{"discount": sub.discounts[0]}, {"coupon": once.id}],  # type: ignore[typeddict-item]
            "expand": ["discounts"],
        },
    )
    assert [d.source.coupon for d in kept.discounts] == ["partner", "loyal"]  # type: ignore[union-attr]

    invoice = stripe_emulator.create_renewal_invoice(sub.id)
    assert invoice["subtotal"] == 20_000
    assert [d["amount"] for d in invoice["total_discount_amounts"]] == [1_000, 2_945]
    assert invoice["total"] == 16_055
    assert invoice["amount_due"] == 15_055  # the 1,000 credit on the balance used
    assert invoice["parent"]["subscription_details"]["subscription"] == sub.id
    assert stripe_emulator.customer(customer.id)["balance"] == 0
    after = stripe_emulator.subscription(sub.id)
    assert [d["source"]["coupon"] for d in after["discounts"]] == ["partner"]
    paid = stripe_emulator.pay_invoice(invoice["id"])
    assert paid["status"] == "paid"
    assert paid["amount_paid"] == 15_055
    fetched = stripe_client.v1.invoices.retrieve(invoice["id"])
    assert fetched.amount_paid == 15_055


def test_refunds_and_events(
    stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.add_price("price_team", 5_000)
    customer = stripe_client.v1.customers.create(params={})
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": "price_team"}]}
    )
    invoice = stripe_emulator.pay_invoice(stripe_emulator.create_renewal_invoice(sub.id)["id"])
    charge = stripe_emulator.charge_for(invoice["id"])
    refund = stripe_client.v1.refunds.create(params={"charge": charge["id"], "amount": 2_000})
    assert refund.amount == 2_000
    assert stripe_emulator.charges[charge["id"]]["amount_refunded"] == 2_000
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create(params={"charge": charge["id"], "amount": 4_000})
    types = [e["type"] for e in stripe_emulator.events]
    for expected in (
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.paid",
        "charge.refunded",
    ):
        assert expected in types
    listed = stripe_client.v1.events.list(params={"type": "invoice.paid"})
    assert [e.data.object["id"] for e in listed.data] == [invoice["id"]]  # type: ignore[index]
    stripe_client.v1.subscriptions.cancel(sub.id)
    assert (
        stripe_emulator.events_of("customer.subscription.deleted")[0]["data"]["object"]["status"]
        == "canceled"
    )


def test_signed_webhook_payloads_verify_with_the_sdk(stripe_emulator: StripeEmulator) -> None:
    event = stripe_emulator.build_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    payload = json.dumps(event).encode()
    header = stripe_emulator.sign(payload, "whsec_test", stripe_emulator.now())
    verified = stripe.WebhookSignature.verify_header(
        payload.decode(), header, "whsec_test", tolerance=None
    )
    assert verified is True
