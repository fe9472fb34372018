"""Progress and achievement from events: the examples the product documents name, counted once,
achieved once, announced once as `milestone_achieved`, and read by rules as facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.milestones.demo import demo_milestones
from tests.conftest import START
from tests.milestones.support import (
    ONBOARDING,
    decisions,
    event,
    events_of,
    fraction,
    milestone,
    post,
    progress,
    rule,
)

Headers = dict[str, str]
Make = Callable[..., dict[str, object]]
DEMO = {m["key"]: m for m in demo_milestones("main_features")}


@pytest.fixture
def acme(make_customer: Make) -> None:
    make_customer("acme", plan="growth")


def step(name: str, key: str, **changes: object) -> dict[str, object]:
    return event("onboarding_step_completed", key, step=name, **changes)  # type: ignore[arg-type]


@pytest.mark.usefixtures("acme")
def test_onboarding_is_complete_at_four_of_five_steps_counted_once_each(
    client: TestClient, admin: Headers
) -> None:
    post(client, admin, event("page_viewed", "warm-up"))  # the catalog is cached, then changes
    milestone(client, admin, **ONBOARDING)
    post(client, admin, step("invite_team", "s1"), step("connect_data", "s2"))
    post(client, admin, step("invite_team", "s1"))  # the same event again: a duplicate
    post(client, admin, step("invite_team", "s3"), step("first_dashboard", "s4"))
    row = progress(client, admin)["onboarding_complete"]
    assert fraction(row) == (3, 4, 75)
    assert [(s["key"], s["count"], s["done"]) for s in row["steps"]][:3] == [
        ("invite_team", 2, True),
        ("connect_data", 1, True),
        ("first_dashboard", 1, True),
    ]
    assert (row["done_steps"], row["required_steps"], row["achieved"]) == (3, 4, False)
    assert events_of(client, admin, "milestone_achieved") == []

    post(client, admin, step("set_alerts", "s5"), step("install_app", "s6"))
    row = progress(client, admin)["onboarding_complete"]
    assert fraction(row) == (4, 4, 100)
    assert (row["achieved"], row["achieved_by"]) == (True, "progress")
    assert row["achieved_at"] == START.isoformat().replace("+00:00", "Z")
    [announced] = events_of(client, admin, "milestone_achieved")
    assert announced["source"] == "milestones"
    assert announced["properties"] == {
        "milestone": "onboarding_complete",
        "achieved_by": "progress",
    }
    post(client, admin, step("invite_team", "s7"))
    assert len(events_of(client, admin, "milestone_achieved")) == 1


def test_first_value_counts_only_within_24_hours_of_the_purchase(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    milestone(client, admin, **DEMO["first_value"])
    for name, hours in (("quick", 23), ("slow", 25)):
        make_customer(name)
        bought = START - timedelta(days=2)
        post(
            client,
            admin,
            event("subscription_started", f"{name}-sub", customer=name, at=bought),
            event("feature_used", f"{name}-f", customer=name, at=bought + timedelta(hours=hours)),
        )
    assert progress(client, admin, "quick")["*"] == ["first_value"]
    slow = progress(client, admin, "slow")
    assert slow["*"] == []
    assert fraction(slow["first_value"]) == (0, 1, 0)
    assert slow["first_value"]["steps"][0]["count"] == 0


@pytest.mark.usefixtures("acme")
def test_renewed_at_least_once_by_a_condition_or_by_a_step(
    client: TestClient, admin: Headers
) -> None:
    milestone(client, admin, **DEMO["renewed_once"])
    milestone(
        client,
        admin,
        key="renewed_step",
        name="Renewed (as a step)",
        steps=[{"key": "renewal", "event": "renewed"}],
    )
    rule(
        client,
        admin,
        key="second-renewal",
        name="Points from the second renewal on",
        triggers=["renewed"],
        condition={">=": [{"var": "customer.renewals"}, 2]},
        actions=[{"type": "award_points", "params": {"points": 50}}],
    )
    post(client, admin, event("page_viewed", "p1"))
    assert progress(client, admin)["*"] == []
    post(client, admin, event("renewed", "r1"))
    rows = progress(client, admin)
    assert rows["*"] == ["renewed_once", "renewed_step"]
    assert fraction(rows["renewed_once"]) == (1, 1, 100)
    assert decisions(client, admin) == []  # customer.renewals is 1
    post(client, admin, event("renewed", "r2"))
    [decision] = decisions(client, admin)
    assert decision["trace"]["facts"]["customer.renewals"] == 2


@pytest.mark.usefixtures("acme")
def test_main_features_need_each_feature_its_number_of_times(
    client: TestClient, admin: Headers
) -> None:
    milestone(client, admin, **DEMO["main_features"])
    uses = ["dashboards", "dashboards", "dashboards", "reports", "api", "reports"]
    post(client, admin, *(event("feature_used", f"f{i}", feature=f) for i, f in enumerate(uses)))
    row = progress(client, admin)["main_features"]
    assert [(s["key"], s["count"], s["needed"]) for s in row["steps"]] == [
        ("dashboards", 3, 3),
        ("reports", 2, 3),
        ("automations", 0, 3),
    ]
    assert fraction(row) == (1, 3, 33)
    more = ["reports", "automations", "automations", "automations"]
    post(client, admin, *(event("feature_used", f"g{i}", feature=f) for i, f in enumerate(more)))
    assert progress(client, admin)["main_features"]["achieved"] is True


def test_a_condition_is_checked_on_any_event_of_the_customer(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    milestone(
        client,
        admin,
        key="paying",
        name="Paying",
        condition={">": [{"var": "customer.mrr_minor"}, 0]},
    )
    make_customer("acme", mrr_minor=0, currency="usd")
    post(client, admin, event("page_viewed", "p1"))
    assert fraction(progress(client, admin)["paying"]) == (0, 1, 0)
    make_customer("acme", mrr_minor=9_900, currency="usd")
    assert progress(client, admin)["*"] == []  # a PUT is not an event
    post(client, admin, event("page_viewed", "p2"))
    assert progress(client, admin)["*"] == ["paying"]


@pytest.mark.usefixtures("acme")
def test_steps_and_a_condition_both_count_and_the_condition_is_the_last_part(
    client: TestClient, admin: Headers
) -> None:
    milestone(
        client,
        admin,
        key="engaged_payer",
        name="Engaged and paying",
        steps=[{"key": "login", "event": "logged_in", "count": 2}],
        condition={">=": [{"var": "customer.renewals"}, 1]},
    )
    post(client, admin, event("logged_in", "l1"), event("logged_in", "l2"))
    assert fraction(progress(client, admin)["engaged_payer"]) == (1, 2, 50)
    post(client, admin, event("renewed", "r1"))
    row = progress(client, admin)["engaged_payer"]
    assert (fraction(row), row["achieved"]) == ((2, 2, 100), True)


@pytest.mark.usefixtures("acme")
def test_milestone_achieved_follows_the_rules_of_the_event_that_achieved_it(
    client: TestClient, admin: Headers
) -> None:
    milestone(
        client, admin, key="first_use", name="First use", steps=[{"key": "use", "event": "used"}]
    )
    rule(
        client,
        admin,
        key="on-use",
        name="Purchase on use",
        triggers=["used"],
        actions=[{"type": "set_stage", "params": {"stage": "purchase"}}],
    )
    rule(
        client,
        admin,
        key="on-milestone",
        name="Onboarding on the milestone",
        triggers=["milestone_achieved"],
        condition={"==": [{"var": "event.properties.milestone"}, "first_use"]},
        actions=[{"type": "set_stage", "params": {"stage": "onboarding"}}],
    )
    post(client, admin, event("used", "u1"))
    changes = [e["properties"] for e in events_of(client, admin, "stage_changed")]
    assert changes == [
        {"from": "awareness", "to": "purchase"},
        {"from": "purchase", "to": "onboarding"},
    ]


@pytest.mark.usefixtures("acme")
def test_rules_read_the_achieved_milestones(client: TestClient, admin: Headers) -> None:
    milestone(client, admin, key="first_use", name="First", steps=[{"key": "u", "event": "used"}])
    rule(
        client,
        admin,
        key="onboarded-points",
        name="Points for onboarded customers' invoices",
        triggers=["invoice_paid", "used"],
        condition={"in": ["first_use", {"var": "customer.milestones"}]},
        actions=[{"type": "award_points", "params": {"points": 10}}],
    )
    post(client, admin, event("invoice_paid", "i1"))
    assert decisions(client, admin) == []
    post(client, admin, event("used", "u1"))  # achieved before this event's rules decide
    post(client, admin, event("invoice_paid", "i2"))
    found = decisions(client, admin)
    assert [d["event_type"] for d in found] == ["used", "invoice_paid"]
    assert found[0]["trace"]["facts"]["customer.milestones"] == ["first_use"]


@pytest.mark.usefixtures("acme")
def test_an_archived_milestone_stops_counting_but_stays_achieved(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    milestone(client, admin, key="first_use", name="First", steps=[{"key": "u", "event": "used"}])
    milestone(
        client, admin, key="twice", name="Twice", steps=[{"key": "u", "event": "x", "count": 2}]
    )
    post(client, admin, event("used", "u1"), event("x", "x1"))
    for key in ("first_use", "twice"):
        assert client.post(f"/v1/milestones/{key}/archive", headers=admin).status_code == 200
    post(client, admin, event("x", "x2"))
    rows = progress(client, admin)
    assert rows["*"] == ["first_use"]
    assert rows["first_use"]["archived"] is True
    assert "twice" not in rows  # archived and never achieved: no longer shown
    make_customer("other")
    post(client, admin, event("used", "u2", customer="other"))
    assert progress(client, admin, "other")["*"] == []


def test_a_customer_token_reads_its_own_progress_only(
    client: TestClient, admin: Headers, make_customer: Make
) -> None:
    make_customer("acme")
    make_customer("globex")
    milestone(client, admin, **ONBOARDING)
    token = client.post("/v1/customers/acme/tokens", headers=admin).json()["token"]
    own = client.get("/v1/customers/acme/milestones", headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200
    assert own.json()["milestones"][0]["milestone"] == "onboarding_complete"
    other = client.get(
        "/v1/customers/globex/milestones", headers={"Authorization": f"Bearer {token}"}
    )
    assert other.status_code == 404
    assert client.get("/v1/customers/nobody/milestones", headers=admin).status_code == 404
