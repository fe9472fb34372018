"""A rule whose actions grant several times in one unit grants each of them, once; a refund
takes them all back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import START

Make = Callable[..., dict[str, object]]
RULE = {
    "key": "double",
    "name": "Ten points, five bonus points and ten more",
    "triggers": ["invoice_paid"],
    "condition": True,
    "actions": [
        {"type": "award_points", "params": {"points": 10}},
        {"type": "award_points", "params": {"points": 5, "reason": "bonus"}},
        {"type": "award_points", "params": {"points": 10}},
        {"type": "grant_credit", "params": {"amount_minor": 300, "currency": "usd"}},
    ],
    "activate": True,
}
REFUNDS = {
    "key": "refunds",
    "name": "Refunds take back",
    "triggers": ["invoice_refunded"],
    "condition": True,
    "actions": [{"type": "reverse_grants", "params": {"of_event": "event.properties.invoice"}}],
    "activate": True,
}


def send(client: TestClient, admin: dict[str, str], kind: str, key: str, **props: Any) -> None:
    event = {
        "type": kind,
        "customer_id": "acme",
        "idempotency_key": key,
        "occurred_at": START.isoformat(),
        "properties": props,
    }
    response = client.post("/v1/events", json={"events": [event]}, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["status"] == "accepted", result.get("error")


def balances(client: TestClient, admin: dict[str, str]) -> dict[str, int]:
    body = client.get("/v1/customers/acme/balances", headers=admin).json()
    return {b["unit"]: b["available"] for b in body["balances"]}


def test_each_grant_of_a_decision_is_made_and_reversed(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    for rule in (RULE, REFUNDS):
        assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    make_customer("acme")
    send(client, admin, "invoice_paid", "in_1")
    assert balances(client, admin) == {"points": 25, "usd": 300}
    [decision] = client.get("/v1/customers/acme/decisions", headers=admin).json()["data"]
    granted = [r.get("granted") for r in decision["results"]]
    assert granted == [10, 5, 10, 300]
    send(client, admin, "invoice_refunded", "r_1", invoice="in_1")
    assert balances(client, admin) == {"points": 0, "usd": 0}
