"""`loyalty billing check`: a live smoke test of the Stripe gateway against a Stripe TEST-mode
key. It makes a throwaway customer, credits one minor unit and takes it back (through the
gateway, with idempotency keys, as the outbox would), checks Stripe's balance and balance
transactions, then deletes the customer. Never with a live key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import stripe

from loyalty_engine.billing.gateway import BillingError
from loyalty_engine.billing.stripe_gateway import TRANSFER_METADATA, StripeGateway

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    ok: bool
    detail: str


class LiveKeyRefused(ValueError):
    pass


def smoke_test(
    gateway: StripeGateway,
    *,
    api_key: str,
    currency: str = "usd",
    report: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Run the checks in order; stops at the first that fails (the customer is still deleted)."""
    if not api_key.startswith(TEST_KEY_PREFIXES):
        raise LiveKeyRefused(
            "loyalty billing check needs a Stripe test-mode key (sk_test_... or rk_test_...): "
            "it creates and deletes a customer"
        )
    steps: list[Step] = []
    run = uuid.uuid4().hex[:12]

    def step(name: str, ok: bool, detail: str) -> bool:
        done = Step(name, ok, detail)
        steps.append(done)
        if report is not None:
            report(done)
        return ok

    client = gateway.client
    try:
        customer = client.v1.customers.create(
            params={
                "name": "loyalty billing check",
                "metadata": {"loyalty_check": run},
            },
            options={"idempotency_key": f"loyalty-check:{run}:customer"},
        )
    except stripe.StripeError as exc:
        step("create a test customer", False, f"{type(exc).__name__}: {exc.user_message or exc}")
        return steps
    step("create a test customer", True, customer.id)
    try:
        _exercise(gateway, customer.id, currency, run, step)
    finally:
        try:
            client.v1.customers.delete(customer.id)
            step("delete the test customer", True, customer.id)
        except stripe.StripeError as exc:
            step("delete the test customer", False, f"{customer.id}: {exc.user_message or exc}")
    return steps


def _exercise(
    gateway: StripeGateway,
    customer: str,
    currency: str,
    run: str,
    step: Callable[[str, bool, str], bool],
) -> None:
    metadata = {TRANSFER_METADATA: "0", "loyalty_check": run}
    try:
        credit = gateway.apply_credit(
            billing_customer_id=customer,
            amount_minor=1,
            currency=currency,
            description="loyalty billing check: credit",
            idempotency_key=f"loyalty-check:{run}:credit",
            metadata=metadata,
        )
        again = gateway.apply_credit(
            billing_customer_id=customer,
            amount_minor=1,
            currency=currency,
            description="loyalty billing check: credit",
            idempotency_key=f"loyalty-check:{run}:credit",
            metadata=metadata,
        )
    except BillingError as exc:
        step("credit 1 minor unit", False, str(exc))
        return
    if not step("credit 1 minor unit", True, credit.external_id):
        return
    if not step(
        "a retry with the same idempotency key has no second effect",
        again.external_id == credit.external_id,
        f"{credit.external_id} / {again.external_id}",
    ):
        return
    try:
        gateway.reverse_credit(
            billing_customer_id=customer,
            amount_minor=1,
            currency=currency,
            description="loyalty billing check: reversal",
            idempotency_key=f"loyalty-check:{run}:reverse",
            metadata=metadata,
        )
    except BillingError as exc:
        step("take the credit back", False, str(exc))
        return
    step("take the credit back", True, "")
    changes = gateway.balance_changes(customer)
    amounts = sorted(change.amount for change in changes)
    step(
        "Stripe records exactly the credit and its reversal",
        amounts == [-1, 1],
        f"balance transactions: {amounts}",
    )
    balance = gateway.client.v1.customers.retrieve(customer).balance
    step("the customer's balance is back to 0", balance == 0, f"balance {balance}")
