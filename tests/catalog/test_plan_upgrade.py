"""Catalog rewards fulfilled by billing: a free plan upgrade for N months (with its way back),
and early access whose cancellation puts the trait back as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from tests.catalog.test_catalog import EARLY_ACCESS, create, fund, redeem

Make = Callable[..., dict[str, object]]
UPGRADE = {
    "key": "pro-3-months",
    "name": "Pro plan for 3 months",
    "kind": "plan_upgrade",
    "cost_points": 1_000,
    "fulfilment": {"price_id": "price_pro_monthly", "months": 3},
}


def test_a_free_upgrade_is_applied_then_reverted_when_its_months_are_over(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Make,
    runtime: Runtime,
    clock: FrozenClock,
    billing: InMemoryBillingGateway,
) -> None:
    make_customer("acme", billing_customer_id="cus_acme")
    create(client, admin, UPGRADE)
    fund(client, admin, "acme", 1_000)
    billing.prices["mem_sub_cus_acme"] = "price_team_monthly"
    worker = OutboxWorker(runtime)

    redeemed = redeem(client, admin, "pro-3-months", "u1")
    assert redeemed.status_code == 201, redeemed.text
    body = redeemed.json()
    assert (body["status"], body["fulfilment_status"]) == ("pending", "pending")
    assert worker.run_once().delivered == 1  # the upgrade; its way back waits three months
    assert billing.prices["mem_sub_cus_acme"] == "price_pro_monthly"
    listed = client.get("/v1/customers/acme/reward-redemptions", headers=admin).json()
    assert listed[0]["fulfilment_status"] == "delivered"

    clock.advance(timedelta(days=88))
    assert worker.run_once().delivered == 0
    clock.advance(timedelta(days=5))
    assert worker.run_once().delivered == 1
    assert billing.prices["mem_sub_cus_acme"] == "price_team_monthly"


def test_cancelling_an_applied_upgrade_reverts_it_now_and_returns_the_points(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Make,
    runtime: Runtime,
    billing: InMemoryBillingGateway,
) -> None:
    make_customer("acme", billing_customer_id="cus_acme")
    create(client, admin, UPGRADE)
    fund(client, admin, "acme", 1_000)
    worker = OutboxWorker(runtime)
    redemption = redeem(client, admin, "pro-3-months", "u1").json()

    in_flight = client.post(f"/v1/reward-redemptions/{redemption['id']}/cancel", headers=admin)
    assert in_flight.status_code == 409
    assert in_flight.json()["error"]["code"] == "upgrade_in_flight"
    worker.run_once()
    cancelled = client.post(f"/v1/reward-redemptions/{redemption['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert worker.run_once().delivered == 1  # the way back, at once
    assert billing.prices["mem_sub_cus_acme"] == "mem_price_base"
    balances = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
    assert next(b["available"] for b in balances if b["unit"] == "points") == 1_000


def test_an_upgrade_needs_a_billing_account(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")
    create(client, admin, UPGRADE)
    fund(client, admin, "acme", 1_000)
    refused = redeem(client, admin, "pro-3-months", "u1")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["reasons"] == [
        "the customer has no billing_customer_id"
    ]
    balances = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
    assert next(b["available"] for b in balances if b["unit"] == "points") == 1_000


def test_upgrade_fulfilment_is_validated(client: TestClient, admin: dict[str, str]) -> None:
    bad = {**UPGRADE, "fulfilment": {"price_id": "", "months": 0}}
    response = client.post("/v1/rewards", json=bad, headers=admin)
    assert response.status_code == 422
    assert "fulfilment for plan_upgrade" in response.text


def test_cancelling_early_access_puts_the_trait_back(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", custom_traits={"early_access_reports": False})
    create(client, admin, EARLY_ACCESS)
    fund(client, admin, "acme", 200)
    redemption = redeem(client, admin, "early-reports", "e1").json()
    customer = client.get("/v1/customers/acme", headers=admin).json()
    assert customer["custom_traits"]["early_access_reports"] is True
    cancelled = client.post(f"/v1/reward-redemptions/{redemption['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    customer = client.get("/v1/customers/acme", headers=admin).json()
    assert customer["custom_traits"]["early_access_reports"] is False
