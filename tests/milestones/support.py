"""Helpers for the milestone and scenario tests: events, milestones, rules and progress by HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import START

Headers = dict[str, str]

ONBOARDING: dict[str, Any] = {
    "key": "onboarding_complete",
    "name": "Onboarding complete",
    "steps": [
        {
            "key": step,
            "event": "onboarding_step_completed",
            "condition": {"==": [{"var": "event.properties.step"}, step]},
        }
        for step in ("invite_team", "connect_data", "first_dashboard", "set_alerts", "install_app")
    ],
    "required_bps": 8_000,
}


def event(
    type: str, key: str, *, customer: str = "acme", at: datetime = START, **properties: Any
) -> dict[str, Any]:
    return {
        "type": type,
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "idempotency_key": key,
        "properties": properties,
    }


def post(client: TestClient, headers: Headers, *events: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json={"events": list(events)}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["rejected"] == 0, body
    return body


def milestone(client: TestClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/milestones", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def rule(client: TestClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/rules", json={"activate": True, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def progress(client: TestClient, headers: Headers, customer: str = "acme") -> dict[str, Any]:
    """The customer's milestones by key (and `achieved` under "*")."""
    response = client.get(f"/v1/customers/{customer}/milestones", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return {"*": body["achieved"], **{m["milestone"]: m for m in body["milestones"]}}


def fraction(row: dict[str, Any]) -> tuple[int, int, int]:
    bar = row["progress"]
    return bar["numerator"], bar["denominator"], bar["percent"]


def events_of(
    client: TestClient, headers: Headers, type: str, customer: str = "acme"
) -> list[dict[str, Any]]:
    """The customer's events of a type, oldest first."""
    response = client.get(
        f"/v1/customers/{customer}/events", params={"type": type, "limit": 200}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return sorted(data, key=lambda e: (e["occurred_at"], e["id"]))


def decisions(client: TestClient, headers: Headers, customer: str = "acme") -> list[dict[str, Any]]:
    """The customer's rule decisions, oldest first."""
    response = client.get(f"/v1/customers/{customer}/decisions?limit=200", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return sorted(data, key=lambda d: d["id"])
