"""Milestone definitions through the API: validation (every problem, with its path), keys,
edits, archiving, the audit log, and who may do what."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Keys
from tests.milestones.support import ONBOARDING, milestone

Headers = dict[str, str]


def test_a_milestone_is_created_read_and_listed(client: TestClient, admin: Headers) -> None:
    created = milestone(client, admin, **ONBOARDING, description="80% of the steps")
    assert created["key"] == "onboarding_complete"
    assert [s["key"] for s in created["steps"]][:2] == ["invite_team", "connect_data"]
    assert created["steps"][0]["name"] == "invite_team"  # a step's name defaults to its key
    assert created["steps"][0]["count"] == 1
    assert (created["required_bps"], created["required_steps"], created["required"]) == (
        8_000,
        None,
        4,
    )
    assert created["manual"] is False
    assert client.get("/v1/milestones/onboarding_complete", headers=admin).json() == created
    assert client.get("/v1/milestones", headers=admin).json() == [created]


def test_every_problem_of_a_definition_is_reported_with_its_path(
    client: TestClient, admin: Headers
) -> None:
    body = {
        "key": "broken",
        "name": "Broken",
        "steps": [
            {"key": "a", "event": "feature_used", "condition": {"==": [{"var": "evnt.type"}, 1]}},
            {"key": "b", "event": "feature_used"},
        ],
        "condition": {">=": [{"var": "customer.renewalz"}, 1]},
    }
    response = client.post("/v1/milestones", json=body, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_milestone"
    by_path = {d["path"]: d for d in error["details"]}
    assert set(by_path) == {"$.steps[0].condition.==[0].var", "$.condition.>=[0].var"}
    assert "customer.renewals" in by_path["$.condition.>=[0].var"]["suggestion"]
    assert client.get("/v1/milestones", headers=admin).json() == []


def test_shape_problems_are_refused_before_anything_is_stored(
    client: TestClient, admin: Headers
) -> None:
    step = {"key": "a", "event": "feature_used"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"steps": [step, step]}, "repeated: a"),
        ({"steps": [step], "required_steps": 1, "required_bps": 5_000}, "not both"),
        ({"steps": [step], "required_steps": 2}, "there are 1 steps"),
        ({"required_bps": 8_000}, "need steps"),
        ({"steps": [{**step, "count": 0}]}, "greater than or equal to 1"),
        ({"steps": [step], "required_bps": 8_000.5}, "valid integer"),
        ({"steps": [{**step, "event": "Not An Event"}]}, "pattern"),
    ]
    for extra, message in cases:
        body = {"key": "m", "name": "M", **extra}
        response = client.post("/v1/milestones", json=body, headers=admin)
        assert response.status_code == 422, extra
        assert message in response.text, (extra, response.text)
    assert client.get("/v1/milestones", headers=admin).json() == []


def test_keys_are_unique_and_unknown_keys_are_not_found(client: TestClient, admin: Headers) -> None:
    milestone(client, admin, key="renewed_once", name="Renewed")
    again = client.post("/v1/milestones", json={"key": "renewed_once", "name": "X"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "milestone_key_taken"
    missing = client.get("/v1/milestones/nope", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "milestone_not_found"
    for path in ("/v1/milestones/nope/archive",):
        assert client.post(path, headers=admin).status_code == 404
    assert client.patch("/v1/milestones/nope", json={"name": "x"}, headers=admin).status_code == 404


def test_an_edit_changes_what_is_given_and_is_audited(client: TestClient, admin: Headers) -> None:
    milestone(client, admin, **ONBOARDING)
    response = client.patch(
        "/v1/milestones/onboarding_complete", json={"required_steps": 3}, headers=admin
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    # Setting required_steps replaces the share in basis points; the steps stay.
    assert (edited["required_steps"], edited["required_bps"], edited["required"]) == (3, None, 3)
    assert len(edited["steps"]) == 5
    bad = client.patch(
        "/v1/milestones/onboarding_complete",
        json={"condition": {"==": [{"var": "customer.palns"}, "x"]}},
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["path"] == "$.condition.==[0].var"
    fewer = client.patch(
        "/v1/milestones/onboarding_complete", json={"steps": ONBOARDING["steps"][:2]}, headers=admin
    )
    assert fewer.status_code == 422
    assert (
        fewer.json()["error"]["details"][0]["message"]
        == "required_steps is 3 but there are 2 steps"
    )
    audit = client.get("/v1/milestones/onboarding_complete/audit", headers=admin).json()
    assert [a["action"] for a in audit] == ["create", "edit"]
    assert audit[1]["diff"]["$.required_steps"] == {"before": None, "after": 3}
    assert audit[1]["diff"]["$.required_bps"] == {"before": 8_000, "after": None}
    assert audit[1]["actor"].startswith("admin:")


def test_an_archived_milestone_stays_readable_but_cannot_change(
    client: TestClient, admin: Headers
) -> None:
    milestone(client, admin, key="renewed_once", name="Renewed")
    archived = client.post("/v1/milestones/renewed_once/archive", headers=admin)
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    again = client.post("/v1/milestones/renewed_once/archive", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "milestone_archived"
    edit = client.patch("/v1/milestones/renewed_once", json={"name": "x"}, headers=admin)
    assert edit.status_code == 409
    audit = client.get("/v1/milestones/renewed_once/audit", headers=admin).json()
    assert [a["action"] for a in audit] == ["create", "archive"]


def test_marketers_configure_support_reads_ingest_may_not(client: TestClient, keys: Keys) -> None:
    body = {"key": "m", "name": "M"}
    assert (
        client.post("/v1/milestones", json=body, headers=keys.headers("support")).status_code == 403
    )
    assert (
        client.post("/v1/milestones", json=body, headers=keys.headers("marketer")).status_code
        == 201
    )
    assert client.get("/v1/milestones", headers=keys.headers("support")).status_code == 200
    assert client.get("/v1/milestones", headers=keys.headers("ingest")).status_code == 403
