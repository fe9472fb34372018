"""Renewal discounts per segment and tier: the program, quotes with reasons, applications that
spend credits once per invoice, `renewal_upcoming` ahead of renewals, and the billing action."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.runtime import Runtime
from rewards.renewals.jobs import announce_renewals
from tests.conftest import START

Make = Callable[..., dict[str, object]]
EVENTS = Event.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
YEAR_ONE = {
    "key": "year-one",
    "name": "Year-one customers",
    "condition": {
        "<": [
            {"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]},
            365 * 86_400,
        ]
    },
}
TIERS = {
    "name": "Status",
    "tiers": [
        {"key": "silver", "name": "Silver", "threshold": 1_000},
        {"key": "gold", "name": "Gold", "threshold": 5_000, "renewal_discount_bps": 1_000},
    ],
}
POLICIES = {
    "combination": "best_of",
    "policies": [
        {"key": "first-renewal", "name": "Year one", "segment": "year-one", "discount_bps": 1_500},
        {
            "key": "loyal-gold",
            "name": "Gold and year one",
            "segment": "year-one",
            "tier": "gold",
            "discount_bps": 500,
        },
    ],
}


def setup_program(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/v1/segments", json=YEAR_ONE, headers=admin).status_code == 201
    assert client.put("/v1/tier-program", json=TIERS, headers=admin).status_code == 200
    response = client.put("/v1/renewal-discounts", json=POLICIES, headers=admin)
    assert response.status_code == 200, response.text


def acme(make_customer: Make, **traits: Any) -> None:
    make_customer(
        "acme",
        currency="usd",
        billing_customer_id="cus_acme",
        subscription_started_at=(START - timedelta(days=200)).isoformat(),
        renewal_on=(START + timedelta(days=20)).date().isoformat(),
        **traits,
    )


def make_gold(client: TestClient, admin: dict[str, str]) -> None:
    rule = {
        "key": "bonus",
        "name": "bonus",
        "triggers": ["bonus"],
        "condition": True,
        "actions": [{"type": "award_points", "params": {"points": 6_000}}],
        "activate": True,
    }
    assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    event = {
        "type": "bonus",
        "customer_id": "acme",
        "idempotency_key": "b1",
        "occurred_at": START.isoformat(),
    }
    assert client.post("/v1/events", json={"events": [event]}, headers=admin).status_code == 200


def credit(client: TestClient, admin: dict[str, str], amount: int) -> None:
    response = client.post(
        "/v1/customers/acme/adjustments",
        json={"unit": "usd", "amount": amount, "reason": "referral credit"},
        headers={**admin, "Idempotency-Key": f"credit-{amount}"},
    )
    assert response.status_code == 201, response.text


def quote(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/billing/renewal-quote?customer=acme", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_program_refuses_unknown_segments_and_tiers_and_conditionless_policies(
    client: TestClient, admin: dict[str, str]
) -> None:
    unknown = {
        "policies": [
            {"key": "a", "name": "A", "segment": "nobody", "discount_bps": 100},
            {"key": "b", "name": "B", "tier": "platinum", "discount_bps": 100},
        ]
    }
    refused = client.put("/v1/renewal-discounts", json=unknown, headers=admin)
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["error"]["details"]] == [
        "$.policies[0].segment",
        "$.policies[1].tier",
    ]
    bare = {"policies": [{"key": "a", "name": "A", "discount_bps": 100}]}
    refused = client.put("/v1/renewal-discounts", json=bare, headers=admin)
    assert refused.status_code == 422
    assert "a segment, a tier, or both" in refused.text
    assert client.get("/v1/renewal-discounts", headers=admin).status_code == 404


def test_a_quote_names_every_matching_discount_and_combines_them(
    client: TestClient, admin: dict[str, str], keys: Any, make_customer: Make
) -> None:
    setup_program(client, admin)
    acme(make_customer)
    make_customer("veteran", subscription_started_at=(START - timedelta(days=900)).isoformat())
    credit(client, admin, 500)

    silver_less = quote(client, keys.headers("billing"))
    assert silver_less["discount_bps"] == 1_500
    assert [r["policy"] for r in silver_less["reasons"]] == ["first-renewal"]
    assert (silver_less["currency"], silver_less["credits_available_minor"]) == ("usd", 500)
    assert silver_less["renewal_on"] == (START + timedelta(days=20)).date().isoformat()

    make_gold(client, admin)
    gold = quote(client, admin)
    assert gold["discount_bps"] == 1_500  # best of 1500, 500 and the tier's 1000
    assert [(r["policy"], r["discount_bps"]) for r in gold["reasons"]] == [
        ("first-renewal", 1_500),
        ("loyal-gold", 500),
        (None, 1_000),
    ]
    assert "Gold tier benefit" in [r["reason"] for r in gold["reasons"]]

    summed = {**POLICIES, "combination": "sum_capped", "cap_bps": 2_500}
    assert client.put("/v1/renewal-discounts", json=summed, headers=admin).status_code == 200
    assert quote(client, admin)["discount_bps"] == 2_500  # 1500 + 500 + 1000, capped

    veteran = client.get("/v1/billing/renewal-quote?customer=veteran", headers=admin).json()
    assert (veteran["discount_bps"], veteran["reasons"]) == (0, [])
    missing = client.get("/v1/billing/renewal-quote?customer=ghost", headers=admin)
    assert missing.status_code == 404


def test_an_application_spends_the_credits_once_per_invoice(
    client: TestClient, admin: dict[str, str], keys: Any, make_customer: Make
) -> None:
    acme(make_customer)
    credit(client, admin, 500)
    billing = keys.headers("billing")
    body = {
        "customer_id": "acme",
        "invoice_ref": "in_2027_01",
        "discount_bps": 1_500,
        "credits_applied_minor": 300,
        "currency": "usd",
    }

    too_much = client.post(
        "/v1/billing/renewal-applications",
        json={**body, "credits_applied_minor": 501},
        headers=billing,
    )
    first = client.post("/v1/billing/renewal-applications", json=body, headers=billing)
    again = client.post("/v1/billing/renewal-applications", json=body, headers=billing)
    changed = client.post(
        "/v1/billing/renewal-applications", json={**body, "discount_bps": 2_000}, headers=billing
    )

    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "insufficient_balance"
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "renewal_application_conflict"
    balances = client.get("/v1/customers/acme/balances", headers=admin).json()["balances"]
    assert balances[0]["available"] == 200
    ledger = client.get("/v1/customers/acme/ledger", headers=admin).json()["data"]
    assert ledger[0]["reason"] == "renewal invoice in_2027_01"
    assert ledger[0]["id"] == first.json()["ledger_entry_id"]
    no_currency = client.post(
        "/v1/billing/renewal-applications",
        json={
            "customer_id": "acme",
            "invoice_ref": "x",
            "discount_bps": 0,
            "credits_applied_minor": 5,
        },
        headers=billing,
    )
    assert no_currency.status_code == 422


def test_upcoming_renewals_are_announced_once_and_a_rule_asks_billing_for_the_discount(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Make,
    runtime: Runtime,
    clock: FrozenClock,
) -> None:
    setup_program(client, admin)
    acme(make_customer)
    make_customer(
        "later",
        subscription_started_at=(START - timedelta(days=30)).isoformat(),
        renewal_on=(START + timedelta(days=45)).date().isoformat(),
    )
    make_customer(
        "no-billing-id",
        subscription_started_at=(START - timedelta(days=30)).isoformat(),
        renewal_on=(START + timedelta(days=10)).date().isoformat(),
    )
    rule = {
        "key": "renewal-discount",
        "name": "Discount renewals",
        "triggers": ["renewal_upcoming"],
        "condition": True,
        "actions": [{"type": "apply_renewal_discount", "params": {}}],
        "activate": True,
    }
    assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201

    assert announce_renewals() == 2
    assert announce_renewals() == 0

    with session_scope(runtime.engine, write=False) as session:
        announced = (
            session.execute(
                select(EVENTS.c.properties)
                .where(EVENTS.c.type == "renewal_upcoming")
                .order_by(EVENTS.c.id)
            )
            .scalars()
            .all()
        )
        messages = session.execute(select(OUTBOX.c.kind, OUTBOX.c.payload)).all()
    assert [p["days_left"] for p in announced] == [20, 10]
    assert messages == [
        (
            "billing.apply_renewal_discount",
            {
                "billing_customer_id": "cus_acme",
                "percent_off_bps": 1_500,
                "description": "Loyalty renewal discount",
                "renewal_on": (START + timedelta(days=20)).date().isoformat(),
            },
        )
    ]
    refused = client.get("/v1/customers/no-billing-id/decisions", headers=admin).json()["data"]
    assert refused[0]["results"][0]["refused"] == "the customer has no billing_customer_id"

    clock.advance(timedelta(days=16))  # "later" now renews in 29 days
    assert announce_renewals() == 1
