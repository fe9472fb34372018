"""The loyalty stage: reached only through set_stage, which needs a renewal and the main-features
milestone; a PUT or a traits event cannot set it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.milestones.support import decisions, event, events_of, milestone, post, rule

Headers = dict[str, str]
Make = Callable[..., dict[str, object]]
LOYALTY_RULE = {
    "key": "stage-loyalty",
    "name": "Loyalty",
    "triggers": ["milestone_achieved", "renewed", "poke"],
    "actions": [{"type": "set_stage", "params": {"stage": "loyalty"}}],
}


def stage(client: TestClient, headers: Headers, customer: str = "acme") -> str:
    found: str = client.get(f"/v1/customers/{customer}", headers=headers).json()["lifecycle_stage"]
    return found


def refusals(client: TestClient, headers: Headers) -> list[str]:
    return [
        r["refused"] for d in decisions(client, headers) for r in d["results"] if "refused" in r
    ]


def test_loyalty_needs_a_renewal_and_the_main_features_milestone(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    make_customer("acme", lifecycle_stage="onboarding")
    milestone(client, admin, key="main_features", name="Main features")
    rule(client, admin, **LOYALTY_RULE)
    post(client, admin, event("poke", "p1"))
    post(client, admin, event("renewed", "r1"))
    assert stage(client, admin) == "onboarding"
    assert refusals(client, admin) == [
        "loyalty stage: has not renewed yet; has not achieved the 'main_features' milestone",
        "loyalty stage: has not achieved the 'main_features' milestone",
    ]
    granted = client.post("/v1/customers/acme/milestones/main_features/grant", headers=admin)
    assert granted.status_code == 201
    assert stage(client, admin) == "loyalty"  # the rule ran on milestone_achieved
    changes = [e["properties"] for e in events_of(client, admin, "stage_changed")]
    assert changes == [{"from": "onboarding", "to": "loyalty"}]


def test_a_put_cannot_move_a_customer_into_loyalty(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    refused = client.put("/v1/customers/new", json={"lifecycle_stage": "loyalty"}, headers=admin)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "loyalty_stage_by_rules_only"
    assert "set_stage" in error["message"]
    assert client.get("/v1/customers/new", headers=admin).status_code == 404  # nothing written
    make_customer("acme", lifecycle_stage="renewal", plan="growth")
    again = client.put(
        "/v1/customers/acme", json={"lifecycle_stage": "loyalty", "plan": "scale"}, headers=admin
    )
    assert again.status_code == 409
    customer = client.get("/v1/customers/acme", headers=admin).json()
    assert (customer["lifecycle_stage"], customer["plan"]) == ("renewal", "growth")


def test_a_loyal_customer_may_be_restated_or_moved_out_by_put(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    make_customer("acme", lifecycle_stage="renewal")
    milestone(client, admin, key="main_features", name="Main features")
    rule(client, admin, **LOYALTY_RULE)
    post(client, admin, event("renewed", "r1"))
    client.post("/v1/customers/acme/milestones/main_features/grant", headers=admin)
    assert stage(client, admin) == "loyalty"
    restated = client.put("/v1/customers/acme", json={"lifecycle_stage": "loyalty"}, headers=admin)
    assert restated.status_code == 200
    moved = client.put("/v1/customers/acme", json={"lifecycle_stage": "renewal"}, headers=admin)
    assert (moved.status_code, moved.json()["lifecycle_stage"]) == (200, "renewal")


@pytest.mark.parametrize("kind", ["traits_updated", "signed_up"])
def test_a_traits_event_cannot_set_the_loyalty_stage(
    client: TestClient, admin: Headers, make_customer: Make, kind: str
) -> None:
    make_customer("acme")
    response = client.post(
        "/v1/events",
        json={"events": [event(kind, "t1", traits={"lifecycle_stage": "loyalty"})]},
        headers=admin,
    )
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert result["error"]["path"] == "$.events[0].properties.traits.lifecycle_stage"
    assert "set_stage" in result["error"]["message"]
    assert stage(client, admin) == "awareness"
    post(client, admin, event("traits_updated", "t2", traits={"lifecycle_stage": "renewal"}))
    assert stage(client, admin) == "renewal"
