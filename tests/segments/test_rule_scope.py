"""Segments in rules: a segment scope, `customer.segments` in conditions, and the checks on both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from tests.conftest import START

Make = Callable[..., dict[str, object]]
ADMINS = {
    "key": "admins",
    "name": "Administrators",
    "condition": {"==": [{"var": "customer.role"}, "admin"]},
}
YEAR_ONE = {
    "key": "year-one",
    "name": "Year-one customers",
    "condition": {
        "<": [{"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]}, 365 * 86400]
    },
}
REWARD = {
    "triggers": ["feature_used"],
    "actions": [{"type": "award_points", "params": {"points": 10}}],
    "activate": True,
}


def used(customer: str, key: str) -> dict[str, Any]:
    return {
        "type": "feature_used",
        "customer_id": customer,
        "idempotency_key": key,
        "occurred_at": START.isoformat(),
        "properties": {"feature": "reports"},
    }


def post(client: TestClient, headers: dict[str, str], *events: dict[str, Any]) -> None:
    response = client.post("/v1/events", json={"events": list(events)}, headers=headers)
    assert response.status_code == 200, response.text
    assert {e["status"] for e in response.json()["results"]} == {"accepted"}, response.text


def fired(client: TestClient, headers: dict[str, str], customer: str) -> list[str]:
    response = client.get(f"/v1/customers/{customer}/decisions", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(d["rule"] for d in response.json()["data"])


def create(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> None:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text


@pytest.fixture
def people(make_customer: Make) -> None:
    make_customer("ann", role="admin")
    make_customer("bob", role="member")


@pytest.mark.usefixtures("people")
def test_a_rule_scoped_to_a_segment_fires_for_its_members_only(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, "/v1/segments", ADMINS)
    create(
        client, admin, "/v1/rules", {**REWARD, "key": "scoped", "name": "s", "segment": "admins"}
    )
    in_condition = {"in": ["admins", {"var": "customer.segments"}]}
    create(
        client,
        admin,
        "/v1/rules",
        {**REWARD, "key": "reads", "name": "r", "condition": in_condition},
    )
    post(client, admin, used("ann", "e1"), used("bob", "e2"))
    assert fired(client, admin, "ann") == ["reads", "scoped"]
    assert fired(client, admin, "bob") == []
    decisions = client.get("/v1/customers/ann/decisions", headers=admin).json()["data"]
    [reads] = [d for d in decisions if d["rule"] == "reads"]
    assert reads["trace"]["facts"]["customer.segments"] == ["admins"]


@pytest.mark.usefixtures("people")
def test_membership_at_event_time_follows_segment_edits(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, "/v1/segments", ADMINS)
    create(
        client, admin, "/v1/rules", {**REWARD, "key": "scoped", "name": "s", "segment": "admins"}
    )
    post(client, admin, used("bob", "e1"))
    edit = {"condition": {"in": [{"var": "customer.role"}, ["admin", "member"]]}}
    client.patch("/v1/segments/admins", json=edit, headers=admin).raise_for_status()
    post(client, admin, used("bob", "e2"))
    decisions = client.get("/v1/customers/bob/decisions", headers=admin).json()["data"]
    assert [d["event_id"] for d in decisions] == [2]  # the second event only


def test_a_now_relative_segment_scope_follows_the_clock(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    make_customer("new", subscription_started_at=(START - timedelta(days=360)).isoformat())
    create(client, admin, "/v1/segments", YEAR_ONE)
    create(
        client, admin, "/v1/rules", {**REWARD, "key": "welcome", "name": "w", "segment": "year-one"}
    )
    post(client, admin, used("new", "e1"))
    clock.advance(timedelta(days=10))  # the first year is over
    post(client, admin, {**used("new", "e2"), "occurred_at": clock.now().isoformat()})
    decisions = client.get("/v1/customers/new/decisions", headers=admin).json()["data"]
    assert [d["event_id"] for d in decisions] == [1]


@pytest.mark.usefixtures("people")
def test_a_rule_names_a_live_segment_or_is_refused_with_a_suggestion(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, "/v1/segments", ADMINS)
    create(client, admin, "/v1/segments", {**ADMINS, "key": "old-admins"})
    client.post("/v1/segments/old-admins/archive", headers=admin).raise_for_status()
    typo = client.post("/v1/rules", json={**REWARD, "name": "t", "segment": "admin"}, headers=admin)
    assert typo.status_code == 422
    [problem] = typo.json()["error"]["details"]
    assert problem == {
        "path": "$.segment",
        "message": "unknown segment 'admin'",
        "type": "unknown_segment",
        "suggestion": "did you mean admins?",
    }
    archived = client.post(
        "/v1/rules", json={**REWARD, "name": "a", "segment": "old-admins"}, headers=admin
    )
    assert archived.json()["error"]["details"][0]["type"] == "archived_segment"


@pytest.mark.usefixtures("people")
def test_a_segment_that_scopes_rules_cannot_be_archived(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, "/v1/segments", ADMINS)
    create(
        client, admin, "/v1/rules", {**REWARD, "key": "scoped", "name": "s", "segment": "admins"}
    )
    refused = client.post("/v1/segments/admins/archive", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"segment": "admins", "rules": ["scoped"]}
    client.post("/v1/rules/scoped/archive", headers=admin).raise_for_status()
    assert client.post("/v1/segments/admins/archive", headers=admin).status_code == 200


@pytest.mark.usefixtures("people")
def test_a_dry_run_says_when_the_customer_is_outside_the_scope(
    client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin, "/v1/segments", ADMINS)
    draft = {k: v for k, v in REWARD.items() if k != "activate"}
    body = {
        "draft": {**draft, "name": "d", "segment": "admins"},
        "event": {"type": "feature_used"},
    }
    member = client.post("/v1/rules/dry-run", json={**body, "customer_id": "ann"}, headers=admin)
    outsider = client.post("/v1/rules/dry-run", json={**body, "customer_id": "bob"}, headers=admin)
    assert (member.json()["matched"], member.json()["facts"]["customer"]["segments"]) == (
        True,
        ["admins"],
    )
    assert outsider.json()["reasons"] == ["the customer is not in segment 'admins'"]
