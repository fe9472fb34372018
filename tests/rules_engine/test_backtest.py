"""Backtests through the API: figures worked out by hand on a small history (two months, three
customers, a capped points rule that stops the rest, a credit rule with a budget), by month and
by segment, against the active rules and what was recorded; nothing written; bad drafts refused;
and a long history streamed in bounded memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, insert, inspect, select, table, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.customers.models import Customer
from loyalty_engine.db import session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.rules.backtest_service import active_rules, run_backtest, select_rules
from loyalty_engine.rules.backtest_stream import Period, read_only
from loyalty_engine.rules.validation import rule_validator
from tests.conftest import START

Headers = dict[str, str]
POINTS = {
    "key": "growth-points",
    "name": "1 point per dollar on growth, twice a month",
    "triggers": ["invoice_paid"],
    "condition": {"==": [{"var": "customer.plan"}, "growth"]},
    "actions": [
        {
            "type": "award_points",
            "params": {"points": {"per": 100, "of": "event.properties.amount_minor"}},
        }
    ],
    "limits": {"per_customer": [{"count": 2, "window": {"calendar": "month"}}]},
    "priority": 10,
    "stop_after_match": True,
}
CREDIT = {
    "key": "big-invoice-credit",
    "name": "$5 credit on invoices of $90 or more",
    "triggers": ["invoice_paid"],
    "condition": {">=": [{"var": "event.properties.amount_minor"}, 9_000]},
    "actions": [{"type": "grant_credit", "params": {"amount_minor": 500, "currency": "usd"}}],
    "limits": {"budget": {"amount": 500, "unit": "usd", "calendar": "quarter"}},
    "priority": 20,
}
# Active while the history was ingested: the same points without the cap or the stop.
ACTIVE = {
    **{k: v for k, v in POINTS.items() if k not in ("limits", "stop_after_match")},
    "name": "1 point per dollar on growth",
    "activate": True,
}
PERIOD = {"from": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}
HISTORY = [  # (customer, day, amount_minor)
    ("acme", "2026-01-05", 10_050),  # 100 points (rounded down)
    ("acme", "2026-01-10", 5_000),  # 50
    ("acme", "2026-01-20", 2_000),  # 20, but the third in January: capped
    ("beta", "2026-01-12", 30_000),  # 300
    ("gamma", "2026-01-15", 9_900),  # starter: the credit rule, $5
    ("acme", "2026-02-03", 7_000),  # 70
    ("beta", "2026-02-04", 1_000),  # 10
    ("gamma", "2026-02-20", 40_000),  # the quarter's credit budget is spent: over budget
    ("acme", "2025-12-31", 50_000),  # before the period
    ("acme", "2026-03-01", 100_000),  # at `until`, which is exclusive
]
SEGMENTS = {"acme": ["growth", "vip"], "beta": ["growth"], "gamma": []}


def add_segments(session: Session, customers: dict[int, dict[str, Any]], _: datetime) -> None:
    """Segment membership by hand (a fact provider, as the segments package installs one)."""
    stmt = select(Customer).where(col(Customer.id).in_(customers))
    for customer in session.execute(stmt).scalars():
        customers[customer.id or 0]["segments"] = SEGMENTS[customer.external_id]


def invoice(customer: str, day: str, amount: int) -> dict[str, Any]:
    return {
        "type": "invoice_paid",
        "customer_id": customer,
        "idempotency_key": f"{customer}-{day}",
        "occurred_at": f"{day}T10:00:00Z",
        "properties": {"amount_minor": amount},
    }


def load_history(client: TestClient, admin: Headers) -> None:
    """The customers, the active rule, then the history (decided as it was ingested)."""
    for customer, plan in (("acme", "growth"), ("beta", "growth"), ("gamma", "starter")):
        client.put(f"/v1/customers/{customer}", json={"plan": plan}, headers=admin)
    client.post("/v1/rules", json=ACTIVE, headers=admin).raise_for_status()
    page_view = {**invoice("acme", "2026-02-05", 0), "type": "page_viewed", "properties": {}}
    events = [*(invoice(*row) for row in HISTORY), page_view]
    response = client.post("/v1/events", json={"events": events}, headers=admin)
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(events)


@pytest.fixture
def history(client: TestClient, admin: Headers, runtime: Any) -> None:
    load_history(client, admin)
    runtime.rules.facts.append(add_segments)


def backtest(client: TestClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/rules/backtest", json={**PERIOD, **body}, headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def figures(found: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(found[n] for n in names)


COUNTS = ("events", "matches", "applied", "capped", "over_budget", "customers", "points")


@pytest.mark.usefixtures("history")
def test_a_backtest_reports_what_the_rules_would_have_granted(
    client: TestClient, admin: Headers
) -> None:
    report = backtest(client, admin, rules=[POINTS, CREDIT])

    assert report["events"] == 8  # the invoices of January and February; page views not read
    points, credit = report["rules"]
    assert (points["key"], points["version"], points["status"]) == (
        "growth-points",
        None,
        "unsaved",
    )
    assert figures(points, *COUNTS, "credits") == (8, 6, 5, 1, 0, 2, 530, {})
    # Growth invoices matched the points rule, which stops the rest: only gamma's reach credits.
    assert figures(credit, *COUNTS, "credits") == (2, 2, 1, 0, 1, 1, 0, {"usd": 500})
    assert figures(report["total"], *COUNTS, "credits") == (8, 8, 6, 1, 1, 3, 530, {"usd": 500})


@pytest.mark.usefixtures("history")
def test_figures_are_broken_down_by_month_and_by_segment(
    client: TestClient, admin: Headers
) -> None:
    total = backtest(client, admin, rules=[POINTS, CREDIT])["total"]

    by_month = {m: figures(f, *COUNTS, "credits") for m, f in total["by_month"].items()}
    assert by_month == {
        "2026-01": (5, 5, 4, 1, 0, 3, 450, {"usd": 500}),
        "2026-02": (3, 3, 2, 0, 1, 2, 80, {}),
    }
    by_segment = {s: figures(f, *COUNTS, "credits") for s, f in total["by_segment"].items()}
    assert by_segment == {  # acme counts in both of its segments
        "(no segment)": (2, 2, 1, 0, 1, 1, 0, {"usd": 500}),
        "growth": (6, 6, 5, 1, 0, 2, 530, {}),
        "vip": (4, 4, 3, 1, 0, 1, 220, {}),
    }


@pytest.mark.usefixtures("history")
def test_the_report_compares_with_the_active_rules_and_what_was_recorded(
    client: TestClient, admin: Headers
) -> None:
    report = backtest(client, admin, rules=[POINTS, CREDIT])

    [active] = report["active"]["rules"]
    assert (active["key"], active["version"], active["status"]) == ("growth-points", 1, "active")
    assert figures(active, *COUNTS) == (8, 6, 6, 0, 0, 2, 550)
    assert figures(report["delta"], *COUNTS, "credits") == (0, 2, 0, 1, 1, 1, -20, {"usd": 500})
    assert report["delta"]["by_month"]["2026-01"]["points"] == 450 - 470
    points, credit = report["rules"]
    assert points["active_version"] == 1
    assert figures(points["delta"], "matches", "applied", "capped", "points") == (0, -1, 1, -20)
    assert (credit["active_version"], credit["delta"]) == (None, None)
    recorded = report["recorded"]["total"]  # decided at ingest, outside the period excluded
    assert figures(recorded, "matches", "applied", "customers", "points") == (6, 6, 2, 550)
    assert any("today's values" in caveat for caveat in report["caveats"])


@pytest.mark.usefixtures("history")
def test_saved_rules_are_named_by_key_and_without_comparison_only_they_are_replayed(
    client: TestClient, admin: Headers
) -> None:
    report = backtest(client, admin, rules=["growth-points"], compare_with_active=False)

    [rule] = report["rules"]
    assert (rule["key"], rule["version"], rule["status"]) == ("growth-points", 1, "active")
    assert figures(rule, "matches", "applied", "points") == (6, 6, 550)
    assert (report["active"], report["delta"], report["recorded"]) == (None, None, None)
    january = backtest(
        client,
        admin,
        rules=[{"key": "growth-points", "version": 1}],
        until="2026-02-01T00:00:00Z",
        event_type="invoice_paid",
    )
    assert january["total"]["points"] == 470
    assert january["period"]["event_type"] == "invoice_paid"
    assert january["delta"]["points"] == 0


def rows(engine: Engine) -> dict[str, int]:
    """Rows in every table the database has."""
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in inspect(conn).get_table_names()
        }


@pytest.mark.usefixtures("history")
def test_a_backtest_writes_nothing(client: TestClient, admin: Headers, engine: Engine) -> None:
    before = rows(engine)
    assert len(before) > 20
    assert before["rule_decisions"] > 0
    assert before["ledger_entries"] > 0
    backtest(client, admin, rules=[POINTS, CREDIT])
    assert rows(engine) == before


def test_the_backtest_session_refuses_writes_and_leaves_its_connection_writable(
    engine: Engine,
) -> None:
    write = update(Customer).values(plan="hacked")
    refused = pytest.raises(DBAPIError, match=r"read-only|readonly")
    with refused, session_scope(engine, write=False) as session, read_only(session):
        session.execute(write)
    with session_scope(engine, write=True) as session:
        connection = session.connection()
        if engine.dialect.name == "sqlite":  # a pooled connection: set back even after an error
            assert connection.exec_driver_sql("PRAGMA query_only").scalar() == 0
        session.execute(write)


def test_invalid_rules_are_refused_with_every_problem_at_its_path(
    client: TestClient, admin: Headers
) -> None:
    bad_draft = {
        **CREDIT,
        "condition": {"==": [{"var": "customer.palns"}, "growth"]},
        "actions": [{"type": "grant_credits", "params": {}}],
    }
    rules = ["no-such-rule", bad_draft, {"name": "no triggers"}]
    response = client.post("/v1/rules/backtest", json={**PERIOD, "rules": rules}, headers=admin)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_rule"
    paths = {d["path"] for d in error["details"]}
    assert {
        "$.rules[0].key",
        "$.rules[1].condition.==[0].var",
        "$.rules[1].actions[0].type",
        "$.rules[2].triggers",
        "$.rules[2].actions",
    } <= paths
    empty = {"rules": [POINTS], "from": PERIOD["until"], "until": PERIOD["from"]}
    response = client.post("/v1/rules/backtest", json=empty, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "$.from"


def test_the_default_period_is_the_last_30_days_and_staff_may_read(
    client: TestClient, keys: Any
) -> None:
    body = {"rules": [POINTS], "compare_with_active": False}
    report = client.post("/v1/rules/backtest", json=body, headers=keys.headers("support")).json()
    assert report["period"]["until"] == START.isoformat()
    assert report["period"]["from"] == (START - timedelta(days=30)).isoformat()
    assert report["events"] == 0
    refused = client.post("/v1/rules/backtest", json=body, headers=keys.headers("ingest"))
    assert refused.status_code == 403


# --- a long history, streamed ---

MANY = 60_000
CUSTOMERS = 500


def generate_history(engine: Engine, since: datetime) -> None:
    """`MANY` invoices over 60 days for `CUSTOMERS` customers, inserted straight into the table."""
    customers = Customer.__table__  # type: ignore[attr-defined]
    events = Event.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            insert(customers),
            [
                {
                    "external_id": f"c{i}",
                    "plan": "growth" if i % 2 else "starter",
                    "custom_traits": {},
                    "trait_times": {},
                    "lifecycle_stage": "awareness",
                    "created_at": since,
                    "updated_at": since,
                }
                for i in range(CUSTOMERS)
            ],
        )
        ids = list(conn.execute(select(customers.c.id)).scalars())
        step = timedelta(days=60) / MANY
        for start in range(0, MANY, 10_000):
            conn.execute(
                insert(events),
                [
                    {
                        "customer_id": ids[n % CUSTOMERS],
                        "type": "invoice_paid",
                        "source": "generated",
                        "idempotency_key": f"g{n}",
                        "occurred_at": since + step * n,
                        "received_at": since,
                        "properties": {"amount_minor": 1_000 + n % 10_000, "note": "x" * 40},
                    }
                    for n in range(start, start + 10_000)
                ],
            )


@pytest.fixture
def server_side_cursors(runtime: Any) -> Iterator[list[bool]]:
    """For each query of the events table: whether it ran on a server-side cursor."""
    seen: list[bool] = []

    def spy(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM events" in statement and "ORDER BY" in statement:
            seen.append(isinstance(cursor, psycopg.ServerCursor))

    event.listen(runtime.engine, "before_cursor_execute", spy)
    yield seen
    event.remove(runtime.engine, "before_cursor_execute", spy)


@pytest.mark.slow
def test_a_long_history_is_streamed_in_bounded_memory(
    runtime: Any, server_side_cursors: list[bool]
) -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    generate_history(runtime.engine, since)
    validate = rule_validator(runtime.actions)
    progress: list[tuple[int, int]] = []

    tracemalloc.start()
    try:
        with session_scope(runtime.engine, write=False) as session, read_only(session):
            rules = select_rules(session, items=[POINTS], engine=runtime.rules, validate=validate)
            report = run_backtest(
                session,
                engine=runtime.rules,
                rules=rules,
                active=active_rules(session, engine=runtime.rules),
                period=Period(since, since + timedelta(days=61)),
                event_type=None,
                progress=lambda done, total: progress.append((done, total)),
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report["events"] == MANY
    assert report["total"]["matches"] == MANY // 2  # the growth half
    assert progress[0] == (0, MANY)
    assert progress[-1] == (MANY, MANY)
    assert len(progress) > MANY // 2_000  # after each chunk (and day) at least
    # Held at once, the events alone would take over 40 MiB (70 MiB per 100,000).
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    if runtime.engine.dialect.name == "postgresql":
        assert server_side_cursors == [True]
