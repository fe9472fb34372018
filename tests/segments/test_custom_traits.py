"""Declared custom traits: their kinds make conditions checkable and segments readable in SQL,
and a kind that segments read does not change under them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime
from loyalty_engine.segments.declarations import DeclaredTraits
from tests.conftest import Keys, LiveServer

Make = Callable[..., dict[str, object]]
ACTIVE = {
    "key": "active",
    "name": "Active",
    "condition": {">=": [{"var": "customer.custom.weekly_active_days"}, 4]},
}


def declare(
    client: TestClient, headers: dict[str, str], name: str, kind: str, description: str = ""
) -> Any:
    body = {"kind": kind, "description": description}
    return client.put(f"/v1/custom-traits/{name}", json=body, headers=headers)


def test_declaring_creates_then_changes_and_lists_by_name(
    client: TestClient, admin: dict[str, str], keys: Keys
) -> None:
    created = declare(client, admin, "weekly_active_days", "integer", "from app analytics")
    assert (created.status_code, created.json()["kind"]) == (201, "integer")
    declare(client, admin, "beta", "boolean").raise_for_status()
    changed = declare(client, admin, "beta", "string", "the beta cohort")
    assert (changed.status_code, changed.json()["kind"]) == (200, "string")
    listed = client.get("/v1/custom-traits", headers=keys.headers("support")).json()
    assert [(t["name"], t["kind"], t["description"]) for t in listed] == [
        ("beta", "string", "the beta cohort"),
        ("weekly_active_days", "integer", "from app analytics"),
    ]
    bad = declare(client, admin, "weekly-active", "integer")
    wrong_kind = declare(client, admin, "x", "instant")
    assert [bad.status_code, wrong_kind.status_code] == [422, 422]
    assert wrong_kind.json()["error"]["details"][0]["path"] == "$.kind"
    assert declare(client, keys.headers("support"), "x", "string").status_code == 403


def test_a_declared_trait_is_read_in_sql_by_its_kind(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("busy", custom_traits={"weekly_active_days": 6})
    make_customer("idle", custom_traits={"weekly_active_days": 1})
    make_customer("odd", custom_traits={"weekly_active_days": "6"})  # text: not the kind
    make_customer("none")
    refused = client.post("/v1/segments", json=ACTIVE, headers=admin)
    assert refused.status_code == 422
    declare(client, admin, "weekly_active_days", "integer").raise_for_status()
    client.post("/v1/segments", json=ACTIVE, headers=admin).raise_for_status()
    page = client.get("/v1/segments/active/members", headers=admin).json()
    assert [c["id"] for c in page["data"]] == ["busy"]


def test_changing_the_kind_a_segment_reads_is_refused_naming_the_segments(
    client: TestClient, admin: dict[str, str]
) -> None:
    declare(client, admin, "weekly_active_days", "integer").raise_for_status()
    declare(client, admin, "plan_tier", "string").raise_for_status()
    client.post("/v1/segments", json=ACTIVE, headers=admin).raise_for_status()
    missing_check = {
        "key": "untracked",
        "name": "No usage data",
        "condition": {"missing": ["customer.custom.weekly_active_days"]},
    }
    client.post("/v1/segments", json=missing_check, headers=admin).raise_for_status()

    refused = declare(client, admin, "weekly_active_days", "number")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "trait_kind_in_use"
    assert error["details"]["segments"] == ["active", "untracked"]
    assert "active, untracked" in error["message"]
    # the description may change; another trait's kind may change
    assert declare(client, admin, "weekly_active_days", "integer", "days a week").status_code == 200
    assert declare(client, admin, "plan_tier", "number").status_code == 200
    # once no live segment reads it, the kind may change
    for key in ("active", "untracked"):
        client.post(f"/v1/segments/{key}/archive", headers=admin).raise_for_status()
    assert declare(client, admin, "weekly_active_days", "number").status_code == 200


def test_an_archived_segment_whose_trait_changed_kind_says_so_when_counted(
    client: TestClient, admin: dict[str, str]
) -> None:
    declare(client, admin, "weekly_active_days", "integer").raise_for_status()
    client.post("/v1/segments", json=ACTIVE, headers=admin).raise_for_status()
    client.post("/v1/segments/active/archive", headers=admin).raise_for_status()
    declare(client, admin, "weekly_active_days", "string").raise_for_status()
    response = client.get("/v1/segments/active/count", headers=admin)
    # text compared with a number has no faithful SQL: the archived segment cannot be counted
    assert (response.status_code, response.json()["error"]["code"]) == (409, "segment_outdated")
    assert response.json()["error"]["details"][0]["path"] == "$"
    members = client.get("/v1/segments/active/members", headers=admin)
    assert members.status_code == 409


def test_declared_kinds_check_rule_conditions(client: TestClient, admin: dict[str, str]) -> None:
    rule = {
        "key": "r",
        "name": "r",
        "triggers": ["feature_used"],
        "condition": {">": [{"var": "customer.custom.cohort"}, 3]},
        "actions": [{"type": "award_points", "params": {"points": 1}}],
    }
    assert client.post("/v1/rules", json=rule, headers=admin).status_code == 201
    declare(client, admin, "cohort", "string").raise_for_status()
    refused = client.post("/v1/rules", json={**rule, "key": "r2"}, headers=admin)
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["details"]
    assert (problem["path"], problem["type"]) == ("$.condition", "type")
    assert "customer.custom.cohort is text" in problem["message"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_process_cache_reloads_when_the_traits_generation_moves(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    cache = DeclaredTraits()
    with session_scope(runtime.engine, write=False) as session:
        assert cache.kinds(session) == {}
    declare(client, admin, "score", "number").raise_for_status()
    with session_scope(runtime.engine, write=False) as session:
        first = cache.kinds(session)
        assert first == {"score": "number"}
        assert cache.kinds(session) is first  # unchanged generation: the cached mapping
    declare(client, admin, "score", "number", "only the description").raise_for_status()
    with session_scope(runtime.engine, write=False) as session:
        assert cache.kinds(session) is first
    declare(client, admin, "score", "integer").raise_for_status()
    with session_scope(runtime.engine, write=False) as session:
        assert cache.kinds(session) == {"score": "integer"}


def test_concurrent_first_declarations_and_segments_end_in_one_row_each(
    live_server: LiveServer, admin: dict[str, str], client: TestClient
) -> None:
    def send(n: int) -> tuple[int, int]:
        with live_server.client(headers=admin) as http:
            body = {"kind": "integer", "description": f"try {n}"}
            trait = http.put("/v1/custom-traits/weekly_active_days", json=body).status_code
            segment = http.post("/v1/segments", json=ACTIVE).status_code
            return trait, segment

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(8)))
    assert sorted(t for t, _ in statuses).count(201) == 1
    assert {t for t, _ in statuses} <= {200, 201}
    assert sorted(s for _, s in statuses) == [201] + [409] * 7
    traits = client.get("/v1/custom-traits", headers=admin).json()
    assert [t["name"] for t in traits] == ["weekly_active_days"]
