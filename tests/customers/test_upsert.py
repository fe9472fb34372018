"""PUT /v1/customers/{id}: create or update typed and custom traits without losing any."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine

from loyalty_engine.clock import FrozenClock
from tests.events.support import customer_count

Make = Callable[..., dict[str, Any]]

EVERY_TRAIT: dict[str, Any] = {
    "email": "Ada@Example.com",
    "name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "plan": "growth",
    "seats": 25,
    "mrr_minor": 49_900,
    "currency": "EUR",
    "role": "admin",
    "industry": "software",
    "country": "gb",
    "timezone": "Europe/London",
    "signup_at": "2025-01-15T10:30:00+02:00",
    "subscription_started_at": "2025-02-01T00:00:00Z",
    "renewal_on": "2026-02-01",
    "billing_customer_id": "cus_123",
    "lifecycle_stage": "onboarding",
    "custom_traits": {"favourite_feature": "reports", "logins": 12, "beta": True},
}

# What the API answers for EVERY_TRAIT: normalised, instants in UTC.
EVERY_TRAIT_READ: dict[str, Any] = {
    **EVERY_TRAIT,
    "email": "Ada@example.com",
    "currency": "eur",
    "country": "GB",
    "signup_at": "2025-01-15T08:30:00Z",
    "subscription_started_at": "2025-02-01T00:00:00Z",
}


def put(
    client: TestClient, admin: dict[str, str], body: Any, external_id: str = "acme"
) -> Response:
    return client.put(f"/v1/customers/{external_id}", json=body, headers=admin)


def read(client: TestClient, admin: dict[str, str], external_id: str = "acme") -> dict[str, Any]:
    response = client.get(f"/v1/customers/{external_id}", headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def traits_of(customer: dict[str, Any]) -> dict[str, Any]:
    return {name: customer[name] for name in EVERY_TRAIT}


def test_first_put_creates_the_customer_with_every_trait(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = put(client, admin, EVERY_TRAIT)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == "acme"
    assert traits_of(created) == EVERY_TRAIT_READ
    assert created["created_at"] == created["updated_at"] == "2026-03-02T09:00:00Z"
    assert read(client, admin) == created


def test_a_new_customer_starts_empty_in_the_awareness_stage(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = put(client, admin, {})

    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["lifecycle_stage"] == "awareness"
    assert customer["custom_traits"] == {}
    assert all(
        customer[name] is None
        for name in EVERY_TRAIT
        if name not in ("lifecycle_stage", "custom_traits")
    )


def test_second_put_updates_and_answers_200(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    make_customer("acme", plan="starter")
    clock.advance(hours=1)

    response = put(client, admin, {"plan": "growth"})

    assert response.status_code == 200, response.text
    assert response.json()["plan"] == "growth"
    assert response.json()["created_at"] == "2026-03-02T09:00:00Z"
    assert response.json()["updated_at"] == "2026-03-02T10:00:00Z"
    assert read(client, admin)["plan"] == "growth"


def test_traits_the_request_does_not_mention_keep_their_value(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", **EVERY_TRAIT)

    assert put(client, admin, {"seats": 30}).status_code == 200

    assert traits_of(read(client, admin)) == {**EVERY_TRAIT_READ, "seats": 30}


@pytest.mark.parametrize(
    "trait",
    [
        "email",
        "name",
        "company",
        "plan",
        "seats",
        "role",
        "industry",
        "country",
        "timezone",
        "signup_at",
        "subscription_started_at",
        "renewal_on",
        "billing_customer_id",
    ],
)
def test_explicit_null_clears_one_trait(
    client: TestClient, admin: dict[str, str], make_customer: Make, trait: str
) -> None:
    make_customer("acme", **EVERY_TRAIT)

    assert put(client, admin, {trait: None}).status_code == 200

    assert traits_of(read(client, admin)) == {**EVERY_TRAIT_READ, trait: None}


def test_null_clears_mrr_and_currency_together(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", **EVERY_TRAIT)

    assert put(client, admin, {"mrr_minor": None, "currency": None}).status_code == 200

    assert traits_of(read(client, admin)) == {
        **EVERY_TRAIT_READ,
        "mrr_minor": None,
        "currency": None,
    }


def test_custom_traits_merge_key_by_key_and_null_removes_a_key(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", custom_traits={"a": 1, "b": "two", "c": [3]})

    response = put(client, admin, {"custom_traits": {"b": None, "c": {"nested": True}, "d": 4.5}})

    assert response.status_code == 200, response.text
    assert read(client, admin)["custom_traits"] == {"a": 1, "c": {"nested": True}, "d": 4.5}


def test_lifecycle_stage_is_set_and_then_kept(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", lifecycle_stage="purchase")

    put(client, admin, {"plan": "growth"})

    assert read(client, admin)["lifecycle_stage"] == "purchase"


def test_mrr_may_rely_on_the_stored_currency(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme", currency="usd")

    response = put(client, admin, {"mrr_minor": 9_900})

    assert response.status_code == 200, response.text
    assert (response.json()["mrr_minor"], response.json()["currency"]) == (9_900, "usd")


# --- refused payloads: 422 with the JSON path of the problem, and nothing written ---

INVALID: list[tuple[Any, str]] = [
    ({"seats": "ten"}, "$.seats"),
    ({"seats": 2.5}, "$.seats"),
    ({"seats": -1}, "$.seats"),
    ({"mrr_minor": -5, "currency": "usd"}, "$.mrr_minor"),
    ({"email": "not-an-email"}, "$.email"),
    ({"name": ""}, "$.name"),
    ({"plan": "p" * 65}, "$.plan"),
    ({"timezone": "Mars/Olympus_Mons"}, "$.timezone"),
    ({"timezone": "Europe"}, "$.timezone"),
    ({"timezone": "Europe/" + "x" * 300}, "$.timezone"),
    ({"country": "Germany"}, "$.country"),
    ({"currency": "dollars"}, "$.currency"),
    ({"signup_at": "2025-01-15T10:30:00"}, "$.signup_at"),
    ({"subscription_started_at": "yesterday"}, "$.subscription_started_at"),
    ({"renewal_on": "2026-02-30"}, "$.renewal_on"),
    ({"lifecycle_stage": "bored"}, "$.lifecycle_stage"),
    ({"lifecycle_stage": None}, "$.lifecycle_stage"),
    ({"custom_traits": {"1st": True}}, "$.custom_traits"),
    ({"custom_traits": "free text"}, "$.custom_traits"),
    ({"favourite_colour": "teal"}, "$.favourite_colour"),
    ({"mrr_minor": 100}, "$.currency"),
    ({"mrr_minor": 100, "currency": None}, "$"),
    (["plan", "growth"], "$"),
]


@pytest.mark.parametrize(("body", "path"), INVALID)
def test_invalid_trait_is_refused_and_nothing_is_created(
    client: TestClient, admin: dict[str, str], engine: Engine, body: Any, path: str
) -> None:
    response = put(client, admin, body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"]
    assert path in [detail["path"] for detail in error["details"]]
    assert client.get("/v1/customers/acme", headers=admin).status_code == 404
    assert customer_count(engine) == 0


# One of each kind: a field's own check, the body's shape, the service's money check.
INVALID_UPDATES: list[tuple[Any, str]] = [
    ({"seats": "ten"}, "$.seats"),
    ({"timezone": "Europe"}, "$.timezone"),
    ({"lifecycle_stage": None}, "$.lifecycle_stage"),
    ({"custom_traits": {"1st": True}}, "$.custom_traits"),
    ({"favourite_colour": "teal"}, "$.favourite_colour"),
    ({"mrr_minor": 100}, "$.currency"),
    (["plan", "growth"], "$"),
]


@pytest.mark.parametrize(("body", "path"), INVALID_UPDATES)
def test_invalid_update_changes_nothing(
    client: TestClient, admin: dict[str, str], make_customer: Make, body: Any, path: str
) -> None:
    before = make_customer("acme", plan="starter", seats=3, custom_traits={"a": 1})
    changes = {"plan": "growth", **body} if isinstance(body, dict) else body

    response = put(client, admin, changes)

    assert response.status_code == 422, response.text
    assert path in [detail["path"] for detail in response.json()["error"]["details"]]
    assert read(client, admin) == before


def test_clearing_the_currency_of_a_stored_mrr_is_refused(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    before = make_customer("acme", mrr_minor=9_900, currency="usd")

    response = put(client, admin, {"currency": None})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["path"] == "$.currency"
    assert read(client, admin) == before


def test_every_problem_is_reported_at_once(client: TestClient, admin: dict[str, str]) -> None:
    response = put(client, admin, {"seats": "ten", "email": "nope", "colour": "teal"})

    assert response.status_code == 422, response.text
    paths = {detail["path"] for detail in response.json()["error"]["details"]}
    assert paths == {"$.seats", "$.email", "$.colour"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"custom_traits": {"x": NaN}}',
        b'{"custom_traits": {"x": Infinity}}',
        b'{"custom_traits": {"x": {"y": [1, -Infinity]}}}',
    ],
)
def test_custom_traits_refuse_what_json_cannot_carry(
    client: TestClient, admin: dict[str, str], engine: Engine, raw: bytes
) -> None:
    response = client.put(
        "/v1/customers/acme", content=raw, headers={**admin, "Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["path"] == "$.custom_traits"
    assert customer_count(engine) == 0


@pytest.mark.parametrize("external_id", ["acme%20corp", "acme%09", "a" * 256])
def test_an_id_events_could_not_name_is_refused(
    client: TestClient, admin: dict[str, str], engine: Engine, external_id: str
) -> None:
    response = client.put(f"/v1/customers/{external_id}", json={}, headers=admin)

    assert response.status_code == 422, response.text
    assert [d["path"] for d in response.json()["error"]["details"]] == ["path.external_id"]
    assert customer_count(engine) == 0


def test_malformed_json_is_a_400(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    response = client.put(
        "/v1/customers/acme",
        content=b'{"plan": "growth"',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_json"
    assert customer_count(engine) == 0


def test_without_credentials_nothing_is_written(client: TestClient, engine: Engine) -> None:
    response = client.put("/v1/customers/acme", json={"plan": "growth"})

    assert response.status_code == 401, response.text
    assert customer_count(engine) == 0


def test_custom_traits_null_removes_them_all(client: TestClient, admin: dict[str, str]) -> None:
    put(client, admin, {"custom_traits": {"source": "ads", "nps": 9}})
    response = put(client, admin, {"custom_traits": None, "plan": "growth"})
    assert response.status_code == 200, response.text
    assert read(client, admin)["custom_traits"] == {}
    assert read(client, admin)["plan"] == "growth"


@pytest.mark.parametrize("value", ["10", True, 10.0])
def test_counts_and_amounts_are_strict_integers(
    client: TestClient, admin: dict[str, str], value: object
) -> None:
    for field in ("seats", "mrr_minor"):
        response = put(client, admin, {field: value, "currency": "usd"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["path"] == f"$.{field}"
