"""Rules through the API: validation, versions, decisions with traces, limits, budgets, dry runs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from loyalty_engine.rules.models import Decision
from rewards.models import LedgerEntry
from tests.conftest import START, LiveServer

Make = Callable[..., dict[str, object]]
EARN = {
    "key": "earn-on-invoices",
    "name": "1 point per dollar paid",
    "triggers": ["invoice_paid"],
    "condition": {"==": [{"var": "customer.plan"}, "growth"]},
    "actions": [
        {
            "type": "award_points",
            "params": {"points": {"per": 100, "of": "event.properties.amount_minor"}},
        }
    ],
    "activate": True,
}


def invoice(key: str, amount: int = 12_345, customer: str = "acme") -> dict[str, Any]:
    return {
        "type": "invoice_paid",
        "customer_id": customer,
        "idempotency_key": key,
        "occurred_at": START.isoformat(),
        "properties": {"amount_minor": amount},
    }


def post(client: TestClient, headers: dict[str, str], *events: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json={"events": list(events)}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def decisions(
    client: TestClient, headers: dict[str, str], customer: str = "acme"
) -> list[dict[str, Any]]:
    response = client.get(f"/v1/customers/{customer}/decisions", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def rule(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/rules", json={**EARN, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def acme(make_customer: Make) -> None:
    make_customer("acme", plan="growth")


def test_every_problem_of_a_rule_is_reported_with_its_path(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        **EARN,
        "condition": {"==": [{"var": "customer.palns"}, "growth"]},
        "actions": [
            {"type": "award_pointz", "params": {}},
            {"type": "award_points", "params": {"points": -5}},
        ],
    }
    response = client.post("/v1/rules", json=body, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_rule"
    by_path = {d["path"]: d for d in error["details"]}
    assert "customer.plan" in (by_path["$.condition.==[0].var"].get("suggestion") or "")
    assert "award_points" in by_path["$.actions[0].type"]["message"]
    assert any(p.startswith("$.actions[1].params.points") for p in by_path)
    assert client.get("/v1/rules", headers=admin).json() == []


@pytest.mark.usefixtures("acme")
def test_a_matching_event_earns_points_and_the_decision_explains_why(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    rule(client, admin)
    post(client, admin, invoice("inv-1", 12_345))

    [decision] = decisions(client, admin)
    assert (decision["rule"], decision["rule_version"], decision["outcome"]) == (
        "earn-on-invoices",
        1,
        "applied",
    )
    assert (decision["grant_unit"], decision["grant_amount"]) == ("points", 123)  # rounded down
    assert decision["trace"]["holds"] is True
    assert decision["trace"]["facts"]["customer.plan"] == "growth"
    assert decision["results"][0]["granted"] == 123
    with engine.connect() as conn:
        entries = conn.execute(select(LedgerEntry.amount, LedgerEntry.decision_id)).all()
    assert entries == [(123, decision["id"])]


@pytest.mark.usefixtures("acme")
def test_a_customer_the_condition_excludes_gets_nothing(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    rule(client, admin)
    make_customer("other", plan="starter")
    post(client, admin, invoice("inv-1", customer="other"))
    assert decisions(client, admin, "other") == []


@pytest.mark.usefixtures("acme")
def test_a_draft_does_nothing_until_activated(client: TestClient, admin: dict[str, str]) -> None:
    created = rule(client, admin, activate=False)
    assert created["active"] is None
    assert created["draft"]["version"] == 1
    post(client, admin, invoice("inv-1"))
    assert decisions(client, admin) == []
    client.post("/v1/rules/earn-on-invoices/activate", headers=admin).raise_for_status()
    post(client, admin, invoice("inv-2"))
    assert len(decisions(client, admin)) == 1


@pytest.mark.usefixtures("acme")
def test_editing_an_active_rule_makes_a_new_version_and_published_ones_never_change(
    client: TestClient, admin: dict[str, str], keys: Any
) -> None:
    rule(client, admin)
    edited = client.patch(
        "/v1/rules/earn-on-invoices",
        json={"name": "Double points"},
        headers=keys.headers("marketer"),
    ).json()
    assert (edited["active"]["version"], edited["active"]["name"]) == (1, "1 point per dollar paid")
    assert (edited["draft"]["version"], edited["draft"]["name"]) == (2, "Double points")

    published = client.post("/v1/rules/earn-on-invoices/activate", headers=admin).json()
    assert published["active"]["version"] == 2
    assert published["draft"] is None
    versions = client.get("/v1/rules/earn-on-invoices/versions", headers=admin).json()
    assert [(v["version"], v["status"], v["name"]) for v in versions] == [
        (1, "archived", "1 point per dollar paid"),
        (2, "active", "Double points"),
    ]
    audit = client.get("/v1/rules/earn-on-invoices/audit", headers=admin).json()
    assert [a["action"] for a in audit] == ["create", "activate", "edit", "activate"]
    assert audit[2]["diff"] == {
        "$.name": {"before": "1 point per dollar paid", "after": "Double points"}
    }
    assert audit[2]["actor"].startswith("marketer:lk_")
    post(client, admin, invoice("inv-1"))
    assert decisions(client, admin)[0]["rule_version"] == 2


@pytest.mark.usefixtures("acme")
def test_a_per_customer_cap_records_why_the_second_event_earned_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    rule(client, admin, limits={"per_customer": [{"count": 1, "window": {"calendar": "month"}}]})
    post(client, admin, invoice("inv-1"), invoice("inv-2"))
    outcomes = sorted((d["outcome"], d["reason"]) for d in decisions(client, admin))
    assert outcomes == [("applied", ""), ("capped", "limit of 1 per customer per month reached")]


@pytest.mark.usefixtures("acme")
def test_a_budget_is_never_exceeded(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("beta", plan="growth")
    rule(client, admin, limits={"budget": {"amount": 250, "unit": "points", "calendar": "year"}})
    post(client, admin, invoice("a", 10_000), invoice("b", 10_000, "beta"), invoice("c", 10_000))
    applied = [
        d
        for c in ("acme", "beta")
        for d in decisions(client, admin, c)
        if d["outcome"] == "applied"
    ]
    over = [
        d
        for c in ("acme", "beta")
        for d in decisions(client, admin, c)
        if d["outcome"] == "over_budget"
    ]
    assert (sum(d["grant_amount"] for d in applied), len(over)) == (200, 1)


@pytest.mark.usefixtures("acme")
def test_fifty_concurrent_events_under_a_cap_of_one_award_once(
    live_server: LiveServer, client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    rule(client, admin, limits={"per_customer": [{"count": 1}]})

    def send(n: int) -> int:
        with live_server.client(headers=admin) as http:
            return http.post("/v1/events", json={"events": [invoice(f"c-{n}")]}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(50)))
    assert statuses == [200] * 50
    with engine.connect() as conn:
        applied = conn.execute(
            select(func.count()).select_from(Decision).where(Decision.outcome == "applied")
        ).scalar_one()
        points = conn.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0))).scalar_one()
    assert (applied, points) == (1, 123)


@pytest.mark.usefixtures("acme")
def test_a_dry_run_explains_and_writes_nothing(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    draft = {k: v for k, v in EARN.items() if k not in ("key", "activate")}
    body = {
        "draft": draft,
        "event": {"type": "invoice_paid", "properties": {"amount_minor": 999}},
        "customer_id": "acme",
    }
    report = client.post("/v1/rules/dry-run", json=body, headers=admin).json()
    assert report["matched"] is True
    assert report["would_grant"] == [{"unit": "points", "amount": 9}]
    assert report["decision"]["facts"]["customer.plan"] == "growth"
    miss = client.post(
        "/v1/rules/dry-run", json={**body, "event": {"type": "page_viewed"}}, headers=admin
    ).json()
    assert miss["matched"] is False
    assert "the rule is not triggered by 'page_viewed'" in miss["reasons"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Decision)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 0


@pytest.mark.usefixtures("acme")
def test_set_stage_moves_the_stage_and_emits_stage_changed(
    client: TestClient, admin: dict[str, str]
) -> None:
    rule(
        client,
        admin,
        key="onboard",
        triggers=["subscription_started"],
        condition=True,
        actions=[{"type": "set_stage", "params": {"stage": "onboarding"}}],
    )
    post(client, admin, {**invoice("s-1"), "type": "subscription_started", "properties": {}})
    assert client.get("/v1/customers/acme", headers=admin).json()["lifecycle_stage"] == "onboarding"
    events = client.get("/v1/customers/acme/events?type=stage_changed", headers=admin).json()[
        "data"
    ]
    assert [(e["source"], e["properties"]) for e in events] == [
        ("rules", {"from": "awareness", "to": "onboarding"})
    ]


@pytest.mark.usefixtures("acme")
def test_the_loyalty_stage_needs_a_renewal_and_the_main_features_milestone(
    client: TestClient, admin: dict[str, str]
) -> None:
    rule(
        client,
        admin,
        key="loyal",
        triggers=["renewed"],
        condition=True,
        actions=[{"type": "set_stage", "params": {"stage": "loyalty"}}],
    )
    post(client, admin, {**invoice("r-1"), "type": "renewed", "properties": {}})
    assert client.get("/v1/customers/acme", headers=admin).json()["lifecycle_stage"] == "awareness"
    [decision] = decisions(client, admin)
    assert "refused" in decision["results"][0]
    assert "main_features" in decision["results"][0]["refused"]


def test_marketers_configure_and_support_only_reads(client: TestClient, keys: Any) -> None:
    assert client.post("/v1/rules", json=EARN, headers=keys.headers("support")).status_code == 403
    assert client.post("/v1/rules", json=EARN, headers=keys.headers("marketer")).status_code == 201
    assert client.get("/v1/rules", headers=keys.headers("support")).status_code == 200


@pytest.mark.usefixtures("acme")
def test_emitted_events_reach_their_own_rules_and_loops_stop(
    client: TestClient, admin: dict[str, str]
) -> None:
    rule(
        client,
        admin,
        key="celebrate",
        triggers=["invoice_paid"],
        condition=True,
        actions=[{"type": "emit_event", "params": {"type": "celebrated", "properties": {"n": 1}}}],
    )
    rule(
        client,
        admin,
        key="bonus",
        triggers=["celebrated"],
        condition=True,
        actions=[{"type": "award_points", "params": {"points": 5}}],
    )
    rule(
        client,
        admin,
        key="echo",
        triggers=["echo"],
        condition=True,
        actions=[{"type": "emit_event", "params": {"type": "echo"}}],
    )
    post(client, admin, invoice("inv-1"), {**invoice("e-1"), "type": "echo", "properties": {}})

    events = client.get("/v1/customers/acme/events?limit=50", headers=admin).json()["data"]
    kinds = sorted(e["type"] for e in events)
    assert kinds.count("celebrated") == 1
    assert kinds.count("echo") == 4  # the original and three generations, then it stops
    fired = {(d["rule"], d["outcome"]) for d in decisions(client, admin)}
    assert ("bonus", "applied") in fired
    echoes = [d["results"][0] for d in decisions(client, admin) if d["rule"] == "echo"]
    assert sorted(str(r["emitted"]) for r in echoes) == ["None", "echo", "echo", "echo"]
    assert any("3 levels deep" in r.get("refused", "") for r in echoes)


def test_limit_windows_count_in_event_time_even_when_events_arrive_late(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    """A January and two February invoices ingested together in March: one per calendar month
    means January's and February's first apply, February's second is capped."""
    make_customer("acme", plan="growth")
    rule(client, admin, limits={"per_customer": [{"count": 1, "window": {"calendar": "month"}}]})
    late = [
        {**invoice(key), "occurred_at": at}
        for key, at in (
            ("jan", "2026-01-15T10:00:00Z"),
            ("feb-1", "2026-02-10T10:00:00Z"),
            ("feb-2", "2026-02-20T10:00:00Z"),
        )
    ]
    post(client, admin, *late)

    in_event_order = sorted(decisions(client, admin), key=lambda d: d["event_id"])
    assert [d["outcome"] for d in in_event_order] == ["applied", "applied", "capped"]
