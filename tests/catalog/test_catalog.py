"""The rewards catalog: items validated per kind, offers with every reason a customer cannot
redeem, redemptions that spend and fulfil in one transaction, cancel and retry, and stock that
holds under concurrent redemptions."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from loyalty_engine.db import session_scope
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.runtime import Runtime
from tests.conftest import LiveServer

Make = Callable[..., dict[str, object]]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
CREDIT = {
    "key": "credit-50",
    "name": "$50 account credit",
    "kind": "account_credit",
    "cost_points": 500,
    "fulfilment": {"amount_minor": 5_000, "currency": "usd"},
}
EARLY_ACCESS = {
    "key": "early-reports",
    "name": "Early access: reports",
    "kind": "set_trait",
    "cost_points": 200,
    "fulfilment": {"trait": "custom.early_access_reports", "value": True},
}
SWAG = {
    "key": "hoodie",
    "name": "Hoodie",
    "kind": "webhook",
    "cost_points": 300,
    "fulfilment": {"url": "https://fulfilment.example/hoodies"},
    "stock": 2,
    "per_customer_limit": 1,
}


def create(client: TestClient, admin: dict[str, str], item: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/rewards", json=item, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fund(client: TestClient, admin: dict[str, str], customer: str, points: int) -> None:
    response = client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"unit": "points", "amount": points, "reason": "test funds"},
        headers={**admin, "Idempotency-Key": f"fund-{customer}-{points}"},
    )
    assert response.status_code == 201, response.text


def redeem(
    client: TestClient, headers: dict[str, str], reward: str, key: str, customer: str = "acme"
) -> Any:
    return client.post(
        f"/v1/customers/{customer}/rewards/{reward}/redemptions",
        headers={**headers, "Idempotency-Key": key},
    )


def points(client: TestClient, admin: dict[str, str], unit: str = "points") -> int:
    balances = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
    return next((b["available"] for b in balances if b["unit"] == unit), 0)


def test_items_are_checked_for_their_kind_and_their_conditions(
    client: TestClient, admin: dict[str, str]
) -> None:
    no_currency = {**CREDIT, "fulfilment": {"amount_minor": 5_000}}
    refused = client.post("/v1/rewards", json=no_currency, headers=admin)
    assert refused.status_code == 422
    assert "currency" in refused.text
    bad_trait = {**EARLY_ACCESS, "fulfilment": {"trait": "seats", "value": "many"}}
    assert client.post("/v1/rewards", json=bad_trait, headers=admin).status_code == 422
    unknown = {**CREDIT, "segment": "nobody", "tiers": ["platinum"]}
    refused = client.post("/v1/rewards", json=unknown, headers=admin)
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["error"]["details"]] == ["$.segment", "$.tiers[0]"]

    created = create(client, admin, CREDIT)
    assert (created["key"], created["stock"], created["is_active"]) == ("credit-50", None, True)
    taken = client.post("/v1/rewards", json=CREDIT, headers=admin)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "reward_key_taken")
    changed = client.patch("/v1/rewards/credit-50", json={"cost_points": 450}, headers=admin)
    assert changed.json()["cost_points"] == 450
    audit = client.get("/v1/rewards", headers=admin).json()
    assert [i["key"] for i in audit] == ["credit-50"]


def test_offers_say_why_a_customer_cannot_redeem(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", role="member")
    assert (
        client.post(
            "/v1/segments",
            json={
                "key": "admins",
                "name": "Admins",
                "condition": {"==": [{"var": "customer.role"}, "admin"]},
            },
            headers=admin,
        ).status_code
        == 201
    )
    create(client, admin, CREDIT)
    create(client, admin, {**EARLY_ACCESS, "segment": "admins"})
    create(client, admin, {**SWAG, "stock": 0})
    fund(client, admin, "acme", 400)

    offers = {o["key"]: o for o in client.get("/v1/customers/acme/rewards", headers=admin).json()}

    assert offers["credit-50"]["reasons"] == ["needs 500 points, 400 available"]
    assert offers["early-reports"]["reasons"] == ["only for the 'admins' segment"]
    assert offers["hoodie"]["reasons"] == ["out of stock"]
    assert not any(o["available"] for o in offers.values())
    unavailable = redeem(client, admin, "hoodie", "h1")
    assert unavailable.status_code == 409
    assert unavailable.json()["error"]["details"]["reasons"] == ["out of stock"]
    short = redeem(client, admin, "credit-50", "c1")
    assert (short.status_code, short.json()["error"]["code"]) == (409, "insufficient_balance")
    assert points(client, admin) == 400  # nothing was spent


def test_an_account_credit_is_granted_at_once_and_cancelling_gives_the_points_back(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")
    create(client, admin, {**CREDIT, "stock": 3})
    fund(client, admin, "acme", 1_200)

    first = redeem(client, admin, "credit-50", "order-1")
    again = redeem(client, admin, "credit-50", "order-1")

    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["status"], first.json()["fulfilment_status"]) == ("fulfilled", "fulfilled")
    assert (points(client, admin), points(client, admin, "usd")) == (700, 5_000)
    assert client.get("/v1/rewards/credit-50", headers=admin).json()["stock"] == 2

    redemption = first.json()["id"]
    cancelled = client.post(f"/v1/reward-redemptions/{redemption}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (points(client, admin), points(client, admin, "usd")) == (1_200, 0)
    assert client.get("/v1/rewards/credit-50", headers=admin).json()["stock"] == 3
    twice = client.post(f"/v1/reward-redemptions/{redemption}/cancel", headers=admin)
    assert twice.json()["refund_entry_id"] == cancelled.json()["refund_entry_id"]
    assert points(client, admin) == 1_200

    used = redeem(client, admin, "credit-50", "order-2").json()["id"]
    spend = client.post(
        "/v1/customers/acme/redemptions",
        json={"unit": "usd", "amount": 1, "reason": "invoice"},
        headers={**admin, "Idempotency-Key": "inv"},
    )
    assert spend.status_code == 201
    refused = client.post(f"/v1/reward-redemptions/{used}/cancel", headers=admin)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "credit_already_used")


def test_early_access_sets_the_trait_and_a_customer_redeems_for_themselves(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")
    make_customer("globex")
    create(client, admin, EARLY_ACCESS)
    fund(client, admin, "acme", 200)
    token = client.post("/v1/customers/acme/tokens", json={}, headers=admin).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}

    assert redeem(client, mine, "early-reports", "e1", customer="globex").status_code == 404
    redeemed = redeem(client, mine, "early-reports", "e1")

    assert redeemed.status_code == 201, redeemed.text
    customer = client.get("/v1/customers/acme", headers=admin).json()
    assert customer["custom_traits"]["early_access_reports"] is True
    listed = client.get("/v1/customers/acme/reward-redemptions", headers=mine).json()
    assert [(r["reward"], r["points"]) for r in listed] == [("early-reports", 200)]


def test_a_webhook_reward_is_pending_until_delivered_and_a_failure_can_be_retried(
    client: TestClient, admin: dict[str, str], make_customer: Make, runtime: Runtime
) -> None:
    make_customer("acme")
    create(client, admin, SWAG)
    fund(client, admin, "acme", 1_000)

    redeemed = redeem(client, admin, "hoodie", "h1").json()
    assert (redeemed["status"], redeemed["fulfilment_status"]) == ("pending", "pending")
    limit = redeem(client, admin, "hoodie", "h2")
    assert limit.json()["error"]["details"]["reasons"] == ["limit of 1 per customer reached"]
    not_failed = client.post(f"/v1/reward-redemptions/{redeemed['id']}/retry", headers=admin)
    assert (not_failed.status_code, not_failed.json()["error"]["code"]) == (409, "nothing_to_retry")

    with session_scope(runtime.engine, write=True) as session:  # the outbox gave up on it
        session.execute(update(OUTBOX).values(status=OutboxStatus.DEAD))
    failed = client.get("/v1/customers/acme/reward-redemptions", headers=admin).json()[0]
    assert failed["fulfilment_status"] == "failed"
    retried = client.post(f"/v1/reward-redemptions/{redeemed['id']}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert retried.json()["fulfilment_status"] == "pending"


@pytest.mark.slow
def test_stock_holds_under_concurrent_redemptions(
    live_server: LiveServer, client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    customers = [f"c{i}" for i in range(12)]
    for customer in customers:
        make_customer(customer)
        fund(client, admin, customer, 300)
    create(client, admin, {**SWAG, "stock": 5})
    start = threading.Barrier(len(customers))

    def attempt(customer: str) -> int:
        with live_server.client() as http:
            start.wait()
            response = http.post(
                f"/v1/customers/{customer}/rewards/hoodie/redemptions",
                headers={**admin, "Idempotency-Key": "x"},
            )
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(customers)) as pool:
        statuses = Counter(pool.map(attempt, customers))

    assert statuses == Counter({201: 5, 409: 7})
    assert client.get("/v1/rewards/hoodie", headers=admin).json()["stock"] == 0
