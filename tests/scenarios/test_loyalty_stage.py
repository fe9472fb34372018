"""One customer's way into the loyalty stage, with a frozen clock: purchase, onboarding steps, the
onboarding milestone, first value within a day, a renewal a year later, then the main features.
The demo's milestones and stage rules drive it; loyalty is refused (saying why) until the customer
has both renewed and used the main features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.milestones.demo import load_demo_milestones
from loyalty_engine.runtime import Runtime
from tests.milestones.support import decisions, event, events_of, fraction, post, progress

Headers = dict[str, str]
NOT_RENEWED = "has not renewed yet"
NO_MAIN_FEATURES = "has not achieved the 'main_features' milestone"


class Customer:
    """The story's customer: events at the clock's time, and what the API says about them."""

    def __init__(self, client: TestClient, headers: Headers, clock: FrozenClock) -> None:
        self.client, self.headers, self.clock = client, headers, clock
        self.sent = 0

    def does(self, kind: str, **properties: Any) -> None:
        self.sent += 1
        at = self.clock.now()
        post(self.client, self.headers, event(kind, f"story-{self.sent}", at=at, **properties))

    def uses(self, *features: str) -> None:
        for feature in features:
            self.does("feature_used", feature=feature)
            self.clock.advance(minutes=10)

    def stage(self) -> str:
        found: str = self.client.get("/v1/customers/acme", headers=self.headers).json()[
            "lifecycle_stage"
        ]
        return found

    def bar(self, key: str) -> tuple[int, int, int]:
        return fraction(progress(self.client, self.headers)[key])

    def loyalty_refusals(self) -> list[str]:
        return [
            result["refused"].removeprefix("loyalty stage: ")
            for d in decisions(self.client, self.headers)
            if d["rule"] == "stage-loyalty"
            for result in d["results"]
            if "refused" in result
        ]


def test_a_customer_reaches_loyalty_only_after_renewing_and_using_the_main_features(
    client: TestClient,
    admin: Headers,
    clock: FrozenClock,
    runtime: Runtime,
    make_customer: Callable[..., dict[str, object]],
) -> None:
    with session_scope(runtime.engine, write=True) as session:
        load_demo_milestones(session, now=clock.now(), runtime=runtime)
    make_customer("acme", plan="growth", role="admin")
    acme = Customer(client, admin, clock)

    # Day 0: the subscription starts.
    clock.advance(hours=1)
    acme.does("subscription_started", plan="growth")
    assert acme.stage() == "purchase"
    assert acme.bar("onboarding_complete") == (0, 4, 0)  # at least 80% of 5 steps: 4

    # Onboarding: three steps, then the fourth completes the milestone.
    for name in ("invite_team", "connect_data", "first_dashboard"):
        clock.advance(minutes=30)
        acme.does("onboarding_step_completed", step=name)
    assert acme.stage() == "onboarding"
    assert acme.bar("onboarding_complete") == (3, 4, 75)
    clock.advance(minutes=30)
    acme.does("onboarding_step_completed", step="set_alerts")
    assert acme.bar("onboarding_complete") == (4, 4, 100)
    assert acme.loyalty_refusals() == [f"{NOT_RENEWED}; {NO_MAIN_FEATURES}"]

    # First value: a feature used within 24 hours of the purchase.
    assert acme.bar("first_value") == (0, 1, 0)
    clock.advance(hours=5)
    acme.uses("dashboards")
    assert acme.bar("first_value") == (1, 1, 100)
    assert acme.bar("main_features") == (0, 3, 0)
    assert acme.loyalty_refusals() == [f"{NOT_RENEWED}; {NO_MAIN_FEATURES}"] * 2
    assert acme.stage() == "onboarding"

    # A year later, the renewal: the renewal stage, and still no loyalty.
    clock.advance(days=365)
    assert acme.bar("renewed_once") == (0, 1, 0)
    acme.does("renewed", term="annual")
    assert acme.stage() == "renewal"
    assert acme.bar("renewed_once") == (1, 1, 100)
    # Refused on the renewal itself, then on the renewed_once milestone it achieved.
    assert acme.loyalty_refusals()[2:] == [NO_MAIN_FEATURES, NO_MAIN_FEATURES]

    # The main features, each three times: dashboards and reports first, then automations.
    acme.uses("dashboards", "dashboards", "reports", "reports", "api", "reports")
    assert acme.bar("main_features") == (2, 3, 66)
    assert acme.stage() == "renewal"
    acme.uses("automations", "automations")
    assert acme.bar("main_features") == (2, 3, 66)
    acme.uses("automations")
    assert acme.bar("main_features") == (3, 3, 100)
    assert acme.stage() == "loyalty"

    history = [e["properties"] for e in events_of(client, admin, "stage_changed")]
    assert history == [
        {"from": "awareness", "to": "purchase"},
        {"from": "purchase", "to": "onboarding"},
        {"from": "onboarding", "to": "renewal"},
        {"from": "renewal", "to": "loyalty"},
    ]
    achieved = [
        e["properties"]["milestone"] for e in events_of(client, admin, "milestone_achieved")
    ]
    assert achieved == ["onboarding_complete", "first_value", "renewed_once", "main_features"]
    assert len(acme.loyalty_refusals()) == 4  # and the fifth attempt succeeded
    bonus = [d for d in decisions(client, admin) if d["rule"] == "onboarding-complete-bonus"]
    assert [(d["grant_unit"], d["grant_amount"]) for d in bonus] == [("points", 1_000)]
