"""`loyalty billing sync|reconcile|check|process-webhooks` against the Stripe emulator."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import stripe
from typer.testing import CliRunner, Result

from loyalty_engine.billing.stripe_gateway import StripeGateway
from loyalty_engine.cli import app as cli
from loyalty_engine.outbox.worker import WorkerReport
from loyalty_engine.runtime import Runtime
from rewards.transfers import TransferReport
from tests.billing.conftest import Grant
from tests.stripe_emulator.emulator import StripeEmulator

Loyalty = Callable[..., Result]
Make = Callable[..., dict[str, object]]


@pytest.fixture
def billing(stripe_client: stripe.StripeClient) -> StripeGateway:
    return StripeGateway(stripe_client)


@pytest.fixture
def loyalty(db_url: str, runtime: Runtime, stripe_emulator: StripeEmulator) -> Loyalty:
    """`loyalty ...` on the test database, with the emulator as Stripe."""
    runner = CliRunner()
    env = {
        "DATABASE_URL": db_url,
        "LOYALTY_STRIPE_API_KEY": stripe_emulator.api_key,
        "LOYALTY_STRIPE_API_BASE": stripe_emulator.url,
    }
    return lambda *args: runner.invoke(cli, list(args), env=env)


def test_sync_links_customers_and_fills_their_billing_traits_once(
    loyalty: Loyalty,
    make_customer: Make,
    client: object,
    admin: dict[str, str],
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
) -> None:
    make_customer("acme")
    make_customer("globex", email="billing@globex.io")
    stripe_emulator.add_price("price_team", 10_000, lookup_key="team")
    stripe_emulator.add_price("price_scale", 120_000, interval="year", lookup_key="scale")
    acme = stripe_client.v1.customers.create(params={"metadata": {"loyalty_customer_id": "acme"}})
    globex = stripe_client.v1.customers.create(params={"email": "billing@globex.io"})
    stripe_client.v1.customers.create(params={"email": "stranger@nowhere.io"})
    old = stripe_client.v1.subscriptions.create(
        params={"customer": acme.id, "items": [{"price": "price_team"}]}
    )
    stripe_client.v1.subscriptions.cancel(old.id)
    stripe_client.v1.subscriptions.create(
        params={"customer": acme.id, "items": [{"price": "price_scale", "quantity": 3}]}
    )
    stripe_client.v1.subscriptions.create(
        params={"customer": globex.id, "items": [{"price": "price_team"}]}
    )

    first = loyalty("billing", "sync", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert (report["customers"], report["linked"], report["unmatched"]) == (3, 2, 1)
    assert (report["subscriptions"], report["updated"]) == (3, 3)
    got = client.get("/v1/customers/acme", headers=admin).json()  # type: ignore[attr-defined]
    assert (got["billing_customer_id"], got["plan"], got["mrr_minor"]) == (acme.id, "scale", 30_000)
    got = client.get("/v1/customers/globex", headers=admin).json()  # type: ignore[attr-defined]
    assert (got["billing_customer_id"], got["plan"], got["mrr_minor"]) == (
        globex.id,
        "team",
        10_000,
    )

    again = json.loads(loyalty("billing", "sync", "--json").output)
    assert again["updated"] == 0  # nothing changed: nothing written


def test_reconcile_is_clean_then_finds_planted_drift(
    loyalty: Loyalty,
    make_customer: Make,
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    grant: Grant,
    transfer: Callable[[], TransferReport],
    deliver: Callable[[], WorkerReport],
) -> None:
    customer = stripe_client.v1.customers.create(params={}).id
    make_customer("acme", billing_customer_id=customer)
    grant(700)
    transfer()
    deliver()
    clean = loyalty("billing", "reconcile", "--json")
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["matched"] == 1

    stripe_emulator.add_balance_transaction(customer, -700, "usd", {"loyalty_transfer_id": "1"})
    drift = loyalty("billing", "reconcile")
    assert drift.exit_code == 1
    assert "1 drift" in drift.output
    found = json.loads(loyalty("billing", "reconcile", "--json").output)["findings"]
    assert [f["kind"] for f in found] == ["duplicate_in_billing"]


def test_check_runs_the_smoke_test_and_refuses_live_keys(
    loyalty: Loyalty, stripe_emulator: StripeEmulator
) -> None:
    checked = loyalty("billing", "check", "--api-key", stripe_emulator.api_key)
    assert checked.exit_code == 0, checked.output
    assert "FAIL" not in checked.output
    assert "Stripe records exactly the credit and its reversal" in checked.output
    assert "delete the test customer" in checked.output
    created = [c for c in stripe_emulator.customers.values() if c["metadata"].get("loyalty_check")]
    assert len(created) == 1
    assert created[0]["deleted"] is True
    assert created[0]["balance"] == 0

    live = loyalty("billing", "check", "--api-key", "sk_live_123")
    assert live.exit_code == 2
    assert "test-mode key" in live.output


def test_process_webhooks_from_the_command_line(
    loyalty: Loyalty, runtime: Runtime, stripe_emulator: StripeEmulator
) -> None:
    from loyalty_engine.billing.inbox.service import store
    from loyalty_engine.db import session_scope

    event = stripe_emulator.build_event("payout.paid", {"id": "po_1", "object": "payout"})
    with session_scope(runtime.engine, write=True) as session:
        assert store(session, event, now=runtime.clock.now())
    result = loyalty("billing", "process-webhooks")
    assert result.exit_code == 0, result.output
    assert "1 events: 0 processed, 1 ignored" in result.output
