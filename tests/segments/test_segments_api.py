"""Segments through the API: checked conditions, changes audited, counts and members in SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from tests.conftest import START, Keys

Make = Callable[..., dict[str, object]]
ADMINS = {
    "key": "administrators",
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


def segment(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/segments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def count(client: TestClient, headers: dict[str, str], key: str) -> int:
    response = client.get(f"/v1/segments/{key}/count", headers=headers)
    assert response.status_code == 200, response.text
    found: int = response.json()["count"]
    return found


def members(client: TestClient, headers: dict[str, str], key: str, **params: Any) -> list[str]:
    """Every member's id, following the cursors page by page."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/v1/segments/{key}/members", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.fixture
def people(make_customer: Make) -> None:
    make_customer(
        "ann", role="admin", subscription_started_at=(START - timedelta(days=30)).isoformat()
    )
    make_customer(
        "bob", role="member", subscription_started_at=(START - timedelta(days=400)).isoformat()
    )
    make_customer(
        "cy", role="admin", subscription_started_at=(START - timedelta(days=364)).isoformat()
    )
    make_customer("dee", role="admin")
    make_customer("eve")


@pytest.mark.usefixtures("people")
def test_a_segment_counts_and_lists_its_members_in_sql(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = segment(client, admin, ADMINS)
    assert (created["key"], created["archived"], created["created_by"][:6]) == (
        "administrators",
        False,
        "admin:",
    )
    assert count(client, admin, "administrators") == 3
    assert members(client, admin, "administrators", limit=2) == ["ann", "cy", "dee"]
    page = client.get("/v1/segments/administrators/members?limit=1", headers=admin).json()
    assert page["data"][0]["role"] == "admin"
    assert page["next_cursor"] is not None


@pytest.mark.usefixtures("people")
def test_now_relative_segments_follow_the_clock(
    client: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    segment(client, admin, YEAR_ONE)
    response = client.get("/v1/segments/year-one/count", headers=admin).json()
    assert (response["count"], response["as_of"]) == (2, "2026-03-02T09:00:00Z")
    assert members(client, admin, "year-one") == ["ann", "cy"]
    clock.advance(timedelta(days=2))  # cy's first year ends
    assert members(client, admin, "year-one") == ["ann"]


@pytest.mark.usefixtures("people")
def test_a_preview_counts_a_condition_that_is_not_saved(client: TestClient, keys: Keys) -> None:
    support = keys.headers("support")
    body = {"condition": {"in": [{"var": "customer.role"}, ["admin", "member"]]}}
    response = client.post("/v1/segments/preview", json=body, headers=support)
    assert response.status_code == 200, response.text
    assert (response.json()["count"], response.json()["segment"]) == (4, None)
    assert client.get("/v1/segments", headers=support).json() == []
    bad = client.post("/v1/segments/preview", json={"condition": {"var": "x"}}, headers=support)
    assert (bad.status_code, bad.json()["error"]["details"][0]["path"]) == (422, "$.condition.var")


def test_every_problem_of_a_condition_is_reported_with_its_path_and_a_hint(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "key": "broken",
        "name": "Broken",
        "condition": {
            "and": [
                {"==": [{"var": "customer.rol"}, "admin"]},
                {"some": [{"var": "customer.milestones"}, {"==": [{"var": ""}, "x"]}]},
                {">=": [{"var": "customer.custom.weekly_active_days"}, 4]},
                {"in": ["vip", {"var": "customer.segments"}]},
            ]
        },
    }
    response = client.post("/v1/segments", json=body, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_segment"
    by_path = {d["path"]: d for d in error["details"]}
    assert by_path["$.condition.and[0].==[0].var"]["suggestion"] == "did you mean customer.role?"
    # an operator without a SQL translation is refused, with what segments may use instead
    some = by_path["$.condition.and[1]"]
    assert (some["type"], "arrays" in some["message"]) == ("sql", True)
    undeclared = by_path["$.condition.and[2].>=[0]"]
    assert (
        undeclared["message"] == "customer.custom.weekly_active_days is not a declared custom trait"
    )
    assert (
        undeclared["suggestion"]
        == "declare its kind first: PUT /v1/custom-traits/weekly_active_days"
    )
    assert by_path["$.condition.and[1].some[0]"]["type"] == "sql_fact"  # milestones: not in SQL
    in_segments = by_path["$.condition.and[3].in[1]"]
    assert in_segments["suggestion"].startswith("a segment cannot read segments")
    assert len(error["details"]) == 5
    assert client.get("/v1/segments/broken", headers=admin).status_code == 404


def test_keys_are_unique_slugs_derived_from_the_name_when_absent(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = segment(client, admin, {"name": "Big Accounts!", "condition": True})
    assert created["key"] == "big-accounts"
    again = client.post(
        "/v1/segments", json={"name": "Big accounts", "condition": True}, headers=admin
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "segment_key_taken")
    bad = client.post(
        "/v1/segments", json={"key": "Not A Slug", "name": "x", "condition": True}, headers=admin
    )
    assert (bad.status_code, bad.json()["error"]["details"][0]["path"]) == (422, "$.key")
    unknown = client.get("/v1/segments/nope/count", headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "segment_not_found")


@pytest.mark.usefixtures("people")
def test_edits_and_archiving_are_audited_with_a_diff(
    client: TestClient, admin: dict[str, str], keys: Keys
) -> None:
    marketer = keys.headers("marketer")
    segment(client, marketer, ADMINS)
    edited = client.patch(
        "/v1/segments/administrators",
        json={
            "condition": {"==": [{"var": "customer.role"}, "member"]},
            "description": "now members",
        },
        headers=marketer,
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["description"]) == (
        "Administrators",
        "now members",
    )
    assert members(client, admin, "administrators") == ["bob"]
    refused = client.patch(
        "/v1/segments/administrators", json={"condition": {"var": "nope"}}, headers=marketer
    )
    assert refused.status_code == 422
    archived = client.post("/v1/segments/administrators/archive", headers=marketer).json()
    assert archived["archived"] is True
    audit = client.get("/v1/segments/administrators/audit", headers=admin).json()
    assert [a["action"] for a in audit] == ["create", "edit", "archive"]
    assert audit[1]["diff"] == {
        "$.condition.==": {
            "before": [{"var": "customer.role"}, "admin"],
            "after": [{"var": "customer.role"}, "member"],
        },
        "$.description": {"before": "", "after": "now members"},
    }
    assert audit[2]["diff"] == {"$.archived": {"before": False, "after": True}}
    assert audit[0]["actor"].startswith("marketer:lk_")


@pytest.mark.usefixtures("people")
def test_an_archived_segment_is_listed_only_on_request_and_no_longer_changes(
    client: TestClient, admin: dict[str, str]
) -> None:
    segment(client, admin, ADMINS)
    segment(client, admin, YEAR_ONE)
    client.post("/v1/segments/administrators/archive", headers=admin).raise_for_status()
    assert [s["key"] for s in client.get("/v1/segments", headers=admin).json()] == ["year-one"]
    listed = client.get("/v1/segments?archived=true", headers=admin).json()
    assert [(s["key"], s["archived"]) for s in listed] == [
        ("administrators", True),
        ("year-one", False),
    ]
    again = client.post("/v1/segments/administrators/archive", headers=admin)
    edit = client.patch("/v1/segments/administrators", json={"name": "x"}, headers=admin)
    assert [again.status_code, edit.status_code] == [409, 409]
    assert edit.json()["error"]["code"] == "segment_archived"
    assert count(client, admin, "administrators") == 3  # still countable, for history


def test_only_configuring_roles_change_segments(client: TestClient, keys: Keys) -> None:
    for role, status in (("support", 403), ("ingest", 403), ("marketer", 201)):
        response = client.post("/v1/segments", json=ADMINS, headers=keys.headers(role))
        assert response.status_code == status, role
    assert (
        client.get("/v1/segments/administrators", headers=keys.headers("support")).status_code
        == 200
    )
