"""The built-in trait reactor: events that name traits update the customer, newest event wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from loyalty_engine.clock import FrozenClock
from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from tests.conftest import START
from tests.events.support import event, event_count, post_events

Make = Callable[..., dict[str, Any]]

# After the PUT that creates the test customer (at START), within the clock's future tolerance.
T1 = START + timedelta(minutes=10)  # older
T2 = START + timedelta(minutes=20)  # newer


@pytest.fixture(autouse=True)
def acme(make_customer: Make) -> None:
    make_customer(
        "acme",
        plan="starter",
        seats=5,
        mrr_minor=1_000,
        currency="usd",
        role="user",
        custom_traits={"source": "ads"},
    )


def customer(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/customers/acme", headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("type_", "properties", "expected"),
    [
        ("plan_changed", {"plan": "growth"}, {"plan": "growth"}),
        ("seats_changed", {"seats": 40}, {"seats": 40}),
        (
            "mrr_changed",
            {"mrr_minor": 9_900, "currency": "EUR"},
            {"mrr_minor": 9_900, "currency": "eur"},
        ),
        ("role_changed", {"role": "admin"}, {"role": "admin"}),
        ("signed_up", {}, {"signup_at": "2026-03-02T09:20:00Z"}),
        (
            "signed_up",
            {"traits": {"name": "Acme Inc", "country": "de"}},
            {"signup_at": "2026-03-02T09:20:00Z", "name": "Acme Inc", "country": "DE"},
        ),
        (
            "subscription_started",
            {},
            {"subscription_started_at": "2026-03-02T09:20:00Z", "plan": "starter"},
        ),
        (
            "subscription_started",
            {"plan": "growth", "renewal_on": "2027-03-01"},
            {
                "subscription_started_at": "2026-03-02T09:20:00Z",
                "plan": "growth",
                "renewal_on": "2027-03-01",
            },
        ),
        ("renewed", {"renewal_on": "2027-03-01"}, {"renewal_on": "2027-03-01"}),
        (
            "traits_updated",
            {
                "traits": {
                    "industry": "retail",
                    "seats": 7,
                    "timezone": "Asia/Tokyo",
                    "lifecycle_stage": "purchase",
                }
            },
            {
                "industry": "retail",
                "seats": 7,
                "timezone": "Asia/Tokyo",
                "lifecycle_stage": "purchase",
            },
        ),
        ("traits_updated", {"traits": {"plan": None}}, {"plan": None}),
        (
            "traits_updated",
            {"traits": {"custom_traits": {"source": None, "nps": 9}}},
            {"custom_traits": {"nps": 9}},
        ),
    ],
)
def test_each_trait_event_sets_its_traits(
    client: TestClient,
    admin: dict[str, str],
    clock: FrozenClock,
    type_: str,
    properties: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    before = customer(client, admin)
    clock.advance(minutes=1)

    result = post_events(client, admin, event("k1", type=type_, at=T2, **properties))

    assert result["accepted"] == 1, result
    after = customer(client, admin)
    assert after == {**before, **expected, "updated_at": "2026-03-02T09:01:00Z"}


def test_an_event_without_a_reactor_leaves_traits_alone(
    client: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    before = customer(client, admin)
    clock.advance(minutes=1)

    post_events(client, admin, event("k1", type="plan_viewed", plan="growth", seats=1))

    assert customer(client, admin) == before


def test_an_older_event_arriving_later_does_not_overwrite(
    client: TestClient, admin: dict[str, str]
) -> None:
    post_events(client, admin, event("new", type="plan_changed", at=T2, plan="enterprise"))
    post_events(client, admin, event("old", type="plan_changed", at=T1, plan="growth"))

    assert customer(client, admin)["plan"] == "enterprise"


def test_a_newer_event_arriving_later_does_overwrite(
    client: TestClient, admin: dict[str, str]
) -> None:
    post_events(client, admin, event("old", type="plan_changed", at=T1, plan="growth"))
    post_events(client, admin, event("new", type="plan_changed", at=T2, plan="enterprise"))

    assert customer(client, admin)["plan"] == "enterprise"


def test_newest_wins_within_one_batch_whatever_the_order(
    client: TestClient, admin: dict[str, str]
) -> None:
    post_events(
        client,
        admin,
        event("new", type="seats_changed", at=T2, seats=50),
        event("old", type="seats_changed", at=T1, seats=20),
    )

    assert customer(client, admin)["seats"] == 50


def test_newest_wins_per_trait(client: TestClient, admin: dict[str, str]) -> None:
    newer: dict[str, Any] = {"traits": {"plan": "enterprise", "custom_traits": {"nps": 10}}}
    older: dict[str, Any] = {
        "traits": {"plan": "growth", "seats": 9, "custom_traits": {"nps": 3, "csm": "bo"}}
    }
    post_events(client, admin, event("new", type="traits_updated", at=T2, **newer))
    post_events(client, admin, event("old", type="traits_updated", at=T1, **older))

    after = customer(client, admin)
    assert (after["plan"], after["seats"]) == ("enterprise", 9)
    assert after["custom_traits"] == {"source": "ads", "nps": 10, "csm": "bo"}


def test_an_older_event_touching_only_newer_traits_changes_nothing(
    client: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    post_events(client, admin, event("new", type="role_changed", at=T2, role="owner"))
    before = customer(client, admin)
    clock.advance(minutes=1)

    post_events(client, admin, event("old", type="role_changed", at=T1, role="viewer"))

    assert customer(client, admin) == before


def test_signed_up_takes_signup_at_from_the_newest_event(
    client: TestClient, admin: dict[str, str]
) -> None:
    post_events(
        client, admin, event("b", type="signed_up", at=T2), event("a", type="signed_up", at=T1)
    )

    assert customer(client, admin)["signup_at"] == "2026-03-02T09:20:00Z"


def test_a_duplicate_event_does_not_apply_again(client: TestClient, admin: dict[str, str]) -> None:
    post_events(client, admin, event("k1", type="plan_changed", at=T1, plan="growth"))
    post_events(client, admin, event("k2", type="plan_changed", at=T1, plan="pro"))

    post_events(client, admin, event("k1", type="plan_changed", at=T2, plan="growth"))

    assert customer(client, admin)["plan"] == "pro"


# --- invalid properties are rejected before anything is written ---


@pytest.mark.parametrize(
    ("type_", "properties", "path"),
    [
        ("seats_changed", {"seats": "many"}, "properties.seats"),
        ("seats_changed", {"seats": 2.5}, "properties.seats"),
        ("seats_changed", {"seats": -3}, "properties.seats"),
        ("seats_changed", {}, "properties.seats"),
        ("plan_changed", {"plan": 3}, "properties.plan"),
        ("plan_changed", {"plan": None}, "properties.plan"),
        ("role_changed", {}, "properties.role"),
        ("mrr_changed", {"mrr_minor": 500}, "properties.currency"),
        ("mrr_changed", {"mrr_minor": 500, "currency": "dollars"}, "properties.currency"),
        ("mrr_changed", {"mrr_minor": "lots", "currency": "usd"}, "properties.mrr_minor"),
        ("renewed", {"renewal_on": "soon"}, "properties.renewal_on"),
        ("subscription_started", {"plan": ""}, "properties.plan"),
        ("signed_up", {"traits": {"email": "nope"}}, "properties.traits.email"),
        ("signed_up", {"traits": "pro"}, "properties.traits"),
        ("traits_updated", {"traits": None}, "properties.traits"),
        ("traits_updated", {"traits": {"seats": "many"}}, "properties.traits.seats"),
        (
            "traits_updated",
            {"traits": {"signup_at": "2026-03-01T00:00:00"}},
            "properties.traits.signup_at",
        ),
        ("traits_updated", {"traits": {"colour": "teal"}}, "properties.traits.colour"),
        (
            "traits_updated",
            {"traits": {"lifecycle_stage": None}},
            "properties.traits.lifecycle_stage",
        ),
        ("traits_updated", {"traits": {"mrr_minor": 500}}, "properties.traits.currency"),
        ("traits_updated", {"traits": {"currency": None}}, "properties.traits.mrr_minor"),
    ],
)
def test_invalid_trait_properties_are_rejected_and_change_nothing(
    client: TestClient,
    admin: dict[str, str],
    engine: Engine,
    type_: str,
    properties: dict[str, Any],
    path: str,
) -> None:
    before = customer(client, admin)

    result = post_events(
        client,
        admin,
        event("ok", type="plan_changed", at=T1, plan="growth"),
        event("bad", type=type_, **properties),
    )

    [accepted, rejected] = result["results"]
    assert accepted["status"] == "accepted"
    assert rejected["status"] == "rejected"
    assert rejected["error"]["code"] == "invalid_properties"
    assert rejected["error"]["path"] == f"$.events[1].{path}"
    assert rejected["error"]["message"]
    assert event_count(engine) == 1
    assert customer(client, admin) == {**before, "plan": "growth"}


# --- one transaction: a reactor that fails takes the whole batch with it ---


class Exploding:
    name = "tests.exploding"

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        raise RuntimeError("reactor failed")


def test_traits_change_in_the_ingest_transaction(
    app: Any, client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    app.state.runtime.reactors.register(Exploding(), ["plan_changed"])
    before = customer(client, admin)

    with pytest.raises(RuntimeError, match="reactor failed"):
        client.post(
            "/v1/events",
            headers=admin,
            json={"events": [event("k1", type="plan_changed", plan="growth")]},
        )

    assert event_count(engine) == 0
    assert customer(client, admin) == before


def test_a_put_and_an_event_change_different_traits(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    post_events(client, admin, event("k1", type="seats_changed", at=T2, seats=11))
    clock.advance(minutes=1)

    make_customer("acme", plan="growth")

    after = customer(client, admin)
    assert (after["plan"], after["seats"]) == ("growth", 11)
    assert datetime.fromisoformat(after["updated_at"]) == START + timedelta(minutes=1)


def test_an_event_older_than_a_put_does_not_overwrite_what_the_put_set(
    client: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    client.put("/v1/customers/acme", json={"plan": "scale"}, headers=admin)
    clock.advance(minutes=1)
    before_put = START - timedelta(days=30)

    post_events(
        client,
        admin,
        event("late-plan", type="plan_changed", at=before_put, plan="starter"),
        event("late-industry", type="traits_updated", at=before_put, traits={"industry": "retail"}),
    )

    after = customer(client, admin)
    assert after["plan"] == "scale"  # the PUT said so later than the event happened
    assert after["industry"] == "retail"  # no PUT set it, so the event is the newest word


def test_mrr_and_currency_are_one_trait(
    client: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    clock.advance(hours=1)
    post_events(
        client,
        admin,
        event("new", type="mrr_changed", at=T2, mrr_minor=9_000, currency="eur"),
        event("old", type="mrr_changed", at=T1, mrr_minor=5_000, currency="usd"),
    )
    after = customer(client, admin)
    assert (after["mrr_minor"], after["currency"]) == (9_000, "eur")
