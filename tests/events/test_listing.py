"""GET /v1/events and GET /v1/customers/{id}/events: newest first, filters, cursor pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.pagination import encode_cursor
from tests.conftest import START
from tests.events.support import event, post_events

Make = Callable[..., dict[str, Any]]
DAY = timedelta(days=1)


@pytest.fixture
def history(client: TestClient, admin: dict[str, str], make_customer: Make) -> None:
    """acme: a1..a4 a day apart (a3b stored after a3, at the same instant); globex: g1 an hour
    after a2."""
    make_customer("acme")
    make_customer("globex")
    post_events(
        client,
        admin,
        event("a3", type="login", at=START - 2 * DAY),
        event("a1", type="signed_up", at=START - 4 * DAY),
        event("g1", type="login", customer="globex", at=START - 3 * DAY + timedelta(hours=1)),
        event("a4", type="invoice_paid", at=START - DAY, amount_minor=100),
        event("a2", type="login", at=START - 3 * DAY),
    )
    post_events(client, admin, event("a3b", type="page_viewed", at=START - 2 * DAY))


def listed_keys(client: TestClient, admin: dict[str, str], url: str, **params: Any) -> list[str]:
    """The idempotency keys of every event `url` lists for `params`, walking all pages."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [e["idempotency_key"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


ACME = "/v1/customers/acme/events"
ALL = "/v1/events"


@pytest.mark.usefixtures("history")
def test_a_customers_events_newest_first(client: TestClient, admin: dict[str, str]) -> None:
    # Events at the same instant come newest-stored first: a3b was stored after a3.
    assert listed_keys(client, admin, ACME) == ["a4", "a3b", "a3", "a2", "a1"]


@pytest.mark.usefixtures("history")
def test_every_event_newest_first(client: TestClient, admin: dict[str, str]) -> None:
    assert listed_keys(client, admin, ALL) == ["a4", "a3b", "a3", "g1", "a2", "a1"]


@pytest.mark.usefixtures("history")
def test_an_event_reads_back_with_its_customers_external_id(
    client: TestClient, admin: dict[str, str]
) -> None:
    newest = client.get(ALL, params={"limit": 1}, headers=admin).json()["data"][0]

    assert newest["customer_id"] == "acme"
    assert newest["type"] == "invoice_paid"
    assert newest["occurred_at"] == "2026-03-01T09:00:00Z"
    assert newest["properties"] == {"amount_minor": 100}


@pytest.mark.parametrize("url", [ACME, ALL])
@pytest.mark.parametrize("limit", [1, 2])
@pytest.mark.usefixtures("history")
def test_pages_walk_every_event_once(
    client: TestClient, admin: dict[str, str], url: str, limit: int
) -> None:
    assert listed_keys(client, admin, url, limit=limit) == listed_keys(client, admin, url)


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        (ACME, {"type": "login"}, ["a3", "a2"]),
        (ALL, {"type": "login"}, ["a3", "g1", "a2"]),
        (ALL, {"type": "nothing_like_it"}, []),
        (ACME, {"occurred_from": "2026-02-27T09:00:00Z"}, ["a4", "a3b", "a3", "a2"]),
        (ACME, {"occurred_to": "2026-02-28T09:00:00Z"}, ["a2", "a1"]),
        (
            ALL,
            {"occurred_from": "2026-02-27T09:00:00Z", "occurred_to": "2026-02-28T09:00:00Z"},
            ["g1", "a2"],
        ),
        (
            ALL,
            {
                "occurred_from": "2026-02-27T11:00:00+02:00",
                "occurred_to": "2026-02-28T11:00:00+02:00",
            },
            ["g1", "a2"],
        ),
        (ALL, {"type": "login", "occurred_from": "2026-02-28T00:00:00Z", "limit": 1}, ["a3"]),
        (ALL, {"type": "login", "limit": 1}, ["a3", "g1", "a2"]),
    ],
)
@pytest.mark.usefixtures("history")
def test_filters(
    client: TestClient,
    admin: dict[str, str],
    url: str,
    params: dict[str, Any],
    expected: list[str],
) -> None:
    assert listed_keys(client, admin, url, **params) == expected


def test_many_events_at_one_instant_page_without_gaps(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")
    result = post_events(client, admin, *(event(f"k{n:02}") for n in range(12)))
    by_id = sorted(result["results"], key=lambda r: r["event_id"], reverse=True)

    assert listed_keys(client, admin, ACME, limit=5) == [r["idempotency_key"] for r in by_id]


def test_the_events_of_an_unknown_customer_are_a_404(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.get("/v1/customers/nobody/events", headers=admin)

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "customer_not_found"


def test_a_customer_without_events(
    client: TestClient, admin: dict[str, str], make_customer: Make
) -> None:
    make_customer("acme")

    assert client.get(ACME, headers=admin).json() == {"data": [], "next_cursor": None}


@pytest.mark.parametrize("url", [ACME, ALL])
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        encode_cursor({"after": 3}),
        encode_cursor({"at": "yesterday", "id": 3}),
        encode_cursor({"at": "2026-03-01T09:00:00", "id": 3}),
        encode_cursor({"at": "2026-03-01T09:00:00Z", "id": "3"}),
    ],
)
def test_a_bad_cursor_is_a_422_at_query_cursor(
    client: TestClient, admin: dict[str, str], make_customer: Make, url: str, cursor: str
) -> None:
    make_customer("acme")

    response = client.get(url, params={"cursor": cursor}, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert [d["path"] for d in response.json()["error"]["details"]] == ["query.cursor"]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"occurred_from": "2026-03-01T09:00:00"}, "query.occurred_from"),
        ({"occurred_to": "tomorrow"}, "query.occurred_to"),
        ({"type": "t" * 65}, "query.type"),
    ],
)
def test_bad_query_parameters_are_a_422(
    client: TestClient, admin: dict[str, str], params: dict[str, Any], path: str
) -> None:
    response = client.get(ALL, params=params, headers=admin)

    assert response.status_code == 422, response.text
    assert [d["path"] for d in response.json()["error"]["details"]] == [path]


def test_billing_keys_may_not_list_events(client: TestClient, keys: Any) -> None:
    response = client.get(ALL, headers=keys.headers("billing"))

    assert response.status_code == 403, response.text
