"""GET /v1/customers/{id} and GET /v1/customers: one customer, filters, cursor pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.clock import FrozenClock

Make = Callable[..., dict[str, Any]]


def list_ids(client: TestClient, admin: dict[str, str], **params: Any) -> list[str]:
    """Every customer id the listing yields for `params`, walking all pages."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/customers", params=query, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [customer["id"] for customer in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_get_returns_the_customer(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    created = make_customer("acme", plan="growth", custom_traits={"a": 1})

    response = client.get("/v1/customers/acme", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json() == created


def test_get_of_an_unknown_customer_is_a_404(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")

    response = client.get("/v1/customers/nobody", headers=admin)

    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "customer_not_found"
    assert "nobody" in error["message"]


def test_pages_walk_every_customer_once_in_creation_order(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    names = [f"c{n:02}" for n in range(7)]
    for name in reversed(names):  # creation order differs from the ids' alphabetical order
        make_customer(name)

    first = client.get("/v1/customers", params={"limit": 3}, headers=admin).json()

    assert [c["id"] for c in first["data"]] == ["c06", "c05", "c04"]
    assert first["next_cursor"] is not None
    assert list_ids(client, admin, limit=3) == list(reversed(names))


def test_a_page_that_ends_exactly_at_the_limit_has_no_next_cursor(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    for name in ("a", "b"):
        make_customer(name)

    page = client.get("/v1/customers", params={"limit": 2}, headers=admin).json()

    assert [c["id"] for c in page["data"]] == ["a", "b"]
    assert page["next_cursor"] is None


def test_an_empty_listing(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/customers", headers=admin)

    assert response.json() == {"data": [], "next_cursor": None}


@pytest.fixture
def population(make_customer: Make, clock: FrozenClock) -> None:
    """Five customers, each updated an hour after the one before (from 09:00)."""
    make_customer(
        "ada",
        name="Ada Lovelace",
        company="Soft_Hub",
        email="ada@engines.example",
        plan="growth",
        role="admin",
        industry="software",
        country="GB",
        lifecycle_stage="onboarding",
    )
    clock.advance(hours=1)
    make_customer(
        "grace",
        name="Grace Hopper",
        company="Navy",
        email="Grace@Navy.example",
        plan="enterprise",
        role="engineer",
        industry="defence",
        country="US",
        lifecycle_stage="renewal",  # loyalty is reached through rules only (a PUT gets 409)
    )
    clock.advance(hours=1)
    make_customer(
        "linus",
        name="Linus",
        company="100% Open",
        plan="growth",
        role="engineer",
        industry="software",
        country="FI",
        lifecycle_stage="onboarding",
    )
    clock.advance(hours=1)
    make_customer(
        "margaret",
        name="Margaret Hamilton",
        company="Apollo",
        plan="starter",
        role="admin",
        industry="aerospace",
        country="US",
    )
    clock.advance(hours=1)
    make_customer("ENG-7", name="Unnamed", company="100 Labs", plan="growth")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"plan": "growth"}, ["ada", "linus", "ENG-7"]),
        ({"role": "engineer"}, ["grace", "linus"]),
        ({"industry": "software"}, ["ada", "linus"]),
        ({"country": "US"}, ["grace", "margaret"]),
        ({"lifecycle_stage": "onboarding"}, ["ada", "linus"]),
        ({"lifecycle_stage": "awareness"}, ["margaret", "ENG-7"]),
        ({"email": "grace@navy.example"}, ["grace"]),
        ({"email": "nobody@navy.example"}, []),
        ({"q": "hop"}, ["grace"]),  # name, case-insensitive
        ({"q": "APOLLO"}, ["margaret"]),  # company
        ({"q": "engines.example"}, ["ada"]),  # email
        ({"q": "eng"}, ["ada", "ENG-7"]),  # email, company, id
        ({"q": "100%"}, ["linus"]),  # % is matched literally ("100% Open", not "100 Labs")
        ({"q": "t_h"}, ["ada"]),  # _ is matched literally ("Soft_Hub", not "Margaret Hamilton")
        ({"updated_since": "2026-03-02T11:00:00Z"}, ["linus", "margaret", "ENG-7"]),
        ({"updated_since": "2026-03-02T13:00:00+02:00"}, ["linus", "margaret", "ENG-7"]),
        ({"plan": "growth", "role": "engineer"}, ["linus"]),
        ({"plan": "growth", "updated_since": "2026-03-02T10:30:00Z"}, ["linus", "ENG-7"]),
    ],
)
@pytest.mark.usefixtures("population")
def test_filters(
    client: TestClient, admin: dict[str, str], params: dict[str, str], expected: list[str]
) -> None:
    assert list_ids(client, admin, **params) == expected


@pytest.mark.usefixtures("population")
def test_filtered_pages_walk_only_the_matches(client: TestClient, admin: dict[str, str]) -> None:
    assert list_ids(client, admin, plan="growth", limit=1) == ["ada", "linus", "ENG-7"]


def test_a_put_moves_updated_since(
    client: TestClient, admin: dict[str, str], make_customer: Make, clock: FrozenClock
) -> None:
    make_customer("old")
    make_customer("touched")
    clock.advance(days=1)
    make_customer("touched", plan="growth")

    assert list_ids(client, admin, updated_since="2026-03-03T09:00:00Z") == ["touched"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        _b64(b'{"before": 3}'),
        _b64(b'{"after": "3"}'),
        _b64(b'{"after": true}'),
        _b64(b'{"after": 18446744073709551615}'),
    ],
)
def test_a_bad_cursor_is_a_422_at_query_cursor(
    client: TestClient, admin: dict[str, str], make_customer: Make, cursor: str
) -> None:
    make_customer("acme")

    response = client.get("/v1/customers", params={"cursor": cursor}, headers=admin)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert [d["path"] for d in error["details"]] == ["query.cursor"]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"lifecycle_stage": "bored"}, "query.lifecycle_stage"),
        ({"updated_since": "2026-03-02T09:00:00"}, "query.updated_since"),
        ({"q": "x" * 101}, "query.q"),
    ],
)
def test_bad_query_parameters_are_a_422_with_their_path(
    client: TestClient, admin: dict[str, str], params: dict[str, Any], path: str
) -> None:
    response = client.get("/v1/customers", params=params, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert [d["path"] for d in response.json()["error"]["details"]] == [path]
