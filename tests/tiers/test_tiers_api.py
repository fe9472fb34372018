"""Tiers through the API and the event path: a program, upgrades from points earned (not the
balance), the earning multiplier, progress to the next tier, and a downgrade only after the
window and the grace, at the scheduled review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from rewards.tiers.jobs import review_tiers

Make = Callable[..., dict[str, object]]
PROGRAM = {
    "name": "Status",
    "grace_days": 30,
    "tiers": [
        {"key": "silver", "name": "Silver", "threshold": 1_000, "renewal_discount_bps": 500},
        {
            "key": "gold",
            "name": "Gold",
            "threshold": 5_000,
            "multiplier_bps": 15_000,
            "renewal_discount_bps": 1_000,
            "perks": ["early_access"],
        },
    ],
}
EARN = {
    "key": "earn",
    "name": "1 point per dollar",
    "triggers": ["invoice_paid"],
    "condition": True,
    "actions": [
        {
            "type": "award_points",
            "params": {"points": {"per": 100, "of": "event.properties.amount_minor"}},
        }
    ],
    "activate": True,
}


def pay(
    client: TestClient, admin: dict[str, str], clock: FrozenClock, key: str, amount: int
) -> None:
    event = {
        "type": "invoice_paid",
        "customer_id": "acme",
        "idempotency_key": key,
        "occurred_at": clock.now().isoformat(),
        "properties": {"amount_minor": amount},
    }
    response = client.post("/v1/events", json={"events": [event]}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted", response.text


def tier(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/customers/acme/tier", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def tier_events(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    events = client.get("/v1/customers/acme/events?limit=200", headers=admin).json()["data"]
    return sorted(
        (e["properties"] for e in events if e["type"] == "tier_changed"),
        key=lambda p: p["basis_value"],
    )


def test_the_program_is_validated_and_versioned(client: TestClient, admin: dict[str, str]) -> None:
    missing = client.get("/v1/tier-program", headers=admin)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "no_tier_program")
    backwards = {**PROGRAM, "tiers": list(reversed(PROGRAM["tiers"]))}  # type: ignore[call-overload]
    refused = client.put("/v1/tier-program", json=backwards, headers=admin)
    assert refused.status_code == 422
    assert "thresholds increasing" in refused.text
    bad_bps = {
        **PROGRAM,
        "tiers": [{"key": "x", "name": "X", "threshold": 0, "renewal_discount_bps": 20_000}],
    }
    refused = client.put("/v1/tier-program", json=bad_bps, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["path"] == "$.tiers[0].renewal_discount_bps"

    first = client.put("/v1/tier-program", json=PROGRAM, headers=admin)
    second = client.put("/v1/tier-program", json={**PROGRAM, "grace_days": 7}, headers=admin)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    read = client.get("/v1/tier-program", headers=admin).json()
    assert (read["grace_days"], read["basis"], read["window"]) == (
        7,
        "points_earned",
        "rolling_12_months",
    )
    assert [t["key"] for t in read["tiers"]] == ["silver", "gold"]


def test_a_customer_climbs_on_points_earned_and_gold_earns_half_as_much_again(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    make_customer("acme", plan="growth")
    assert client.put("/v1/tier-program", json=PROGRAM, headers=admin).status_code == 200
    assert client.post("/v1/rules", json=EARN, headers=admin).status_code == 201
    before = tier(client, admin)
    assert (before["tier"], before["basis_value"], before["next"]["needed"]) == (None, 0, 1_000)

    pay(client, admin, clock, "inv-1", 150_000)  # 1,500 points: silver

    silver = tier(client, admin)
    assert silver["tier"]["key"] == "silver"
    assert silver["tier"]["renewal_discount_bps"] == 500
    assert silver["basis_value"] == 1_500
    assert silver["next"]["tier"]["key"] == "gold"
    assert (silver["next"]["needed"], silver["next"]["progress_bps"]) == (3_500, 1_250)
    assert silver["since"] == clock.now().isoformat().replace("+00:00", "Z")

    # Spending does not lower what was earned: tiers never read the balance.
    spent = client.post(
        "/v1/customers/acme/redemptions",
        json={"amount": 1_200},
        headers={**admin, "Idempotency-Key": "swag"},
    )
    assert spent.status_code == 201, spent.text
    assert tier(client, admin)["basis_value"] == 1_500

    clock.advance(timedelta(days=3))
    pay(client, admin, clock, "inv-2", 350_000)  # 5,000 earned: gold
    gold = tier(client, admin)
    assert (gold["tier"]["key"], gold["next"], gold["tier"]["perks"]) == (
        "gold",
        None,
        ["early_access"],
    )
    assert [(h["from_tier"], h["to_tier"]) for h in gold["history"]] == [
        ("silver", "gold"),
        (None, "silver"),
    ]

    pay(client, admin, clock, "inv-3", 10_000)  # 100 points at 1.5x
    balance = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"][0]
    assert balance["available"] == 1_500 - 1_200 + 3_500 + 150
    assert tier_events(client, admin) == [
        {"from": None, "to": "silver", "direction": "upgrade", "basis_value": 1_500},
        {"from": "silver", "to": "gold", "direction": "upgrade", "basis_value": 5_000},
    ]


def test_a_downgrade_waits_for_the_window_and_grace_then_happens_at_the_review(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    make_customer("acme", plan="growth")
    client.put("/v1/tier-program", json=PROGRAM, headers=admin)
    client.post("/v1/rules", json=EARN, headers=admin)
    pay(client, admin, clock, "inv-1", 600_000)  # 6,000 points: gold, qualified for 12 months
    qualified_until = tier(client, admin)["qualified_until"]

    clock.advance(timedelta(days=365 + 20))  # the window is over, the grace is not
    pay(client, admin, clock, "inv-2", 150_000)  # earned in the last 12 months: 1,500 x 1.5
    assert review_tiers() == 0
    held = tier(client, admin)
    assert (held["tier"]["key"], held["basis_value"], held["qualified_until"]) == (
        "gold",
        2_250,
        qualified_until,
    )

    clock.advance(timedelta(days=10))  # window + 30 days of grace
    assert review_tiers() == 1
    silver = tier(client, admin)
    assert silver["tier"]["key"] == "silver"
    assert silver["history"][0]["reason"].startswith("downgrade after the qualification window")
    assert tier_events(client, admin)[0] == {
        "from": "gold",
        "to": "silver",
        "direction": "downgrade",
        "basis_value": 2_250,
    }
    assert review_tiers() == 0


def test_customers_read_their_own_tier_only(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")
    make_customer("globex")
    client.put("/v1/tier-program", json=PROGRAM, headers=admin)
    token = client.post("/v1/customers/acme/tokens", json={}, headers=admin).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert tier(client, mine)["customer_id"] == "acme"
    assert client.get("/v1/customers/globex/tier", headers=mine).status_code == 404
