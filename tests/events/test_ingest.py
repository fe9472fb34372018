"""POST /v1/events: per-event outcomes, idempotency, and nothing stored for what is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import col

from loyalty_engine.events.models import Event
from tests.conftest import START
from tests.events.support import event, event_count, post_events

Make = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def customers(make_customer: Make) -> None:
    make_customer("acme")
    make_customer("globex")


def stored_keys(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Event.source), col(Event.idempotency_key)).order_by(col(Event.id))
        )
        return [(source, key) for source, key in rows]


def test_an_accepted_event_is_stored_as_sent(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    sent = event("k1", type="invoice_paid", at=START - timedelta(minutes=5), amount_minor=4_900)
    sent["source"] = "stripe"

    result = post_events(client, admin, sent)

    [outcome] = result["results"]
    assert result == {"accepted": 1, "duplicates": 0, "rejected": 0, "results": [outcome]}
    assert outcome == {
        "index": 0,
        "status": "accepted",
        "event_id": outcome["event_id"],
        "idempotency_key": "k1",
        "error": None,
    }
    [stored] = client.get("/v1/customers/acme/events", headers=admin).json()["data"]
    assert stored == {
        "id": outcome["event_id"],
        "type": "invoice_paid",
        "customer_id": "acme",
        "source": "stripe",
        "idempotency_key": "k1",
        "occurred_at": "2026-03-02T08:55:00Z",
        "received_at": "2026-03-02T09:00:00Z",
        "properties": {"amount_minor": 4_900},
    }


def test_the_source_defaults_to_api(client: TestClient, admin: dict[str, str]) -> None:
    post_events(client, admin, event("k1"))

    [stored] = client.get("/v1/events", headers=admin).json()["data"]
    assert stored["source"] == "api"


def test_the_same_key_twice_stores_one_event(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    first = post_events(client, admin, event("k1", plan="a"))
    again = post_events(client, admin, event("k1", plan="b"))

    event_id = first["results"][0]["event_id"]
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 1, 0)
    assert again["results"] == [
        {
            "index": 0,
            "status": "duplicate",
            "event_id": event_id,
            "idempotency_key": "k1",
            "error": None,
        }
    ]
    assert event_count(engine) == 1
    [stored] = client.get("/v1/events", headers=admin).json()["data"]
    assert stored["properties"] == {"plan": "a"}


def test_a_key_repeated_within_one_batch_stores_one_event(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(client, admin, event("k1"), event("k2"), event("k1"), event("k1"))

    ids = [r["event_id"] for r in result["results"]]
    assert [r["status"] for r in result["results"]] == [
        "accepted",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert (result["accepted"], result["duplicates"]) == (2, 2)
    assert ids[0] == ids[2] == ids[3] != ids[1]
    assert event_count(engine) == 2


def test_a_key_repeated_within_a_batch_after_an_earlier_request(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    first = post_events(client, admin, event("k1"))

    result = post_events(client, admin, event("k1"), event("k1"))

    event_id = first["results"][0]["event_id"]
    assert [(r["status"], r["event_id"]) for r in result["results"]] == [
        ("duplicate", event_id),
        ("duplicate", event_id),
    ]
    assert event_count(engine) == 1


def test_a_key_repeated_after_a_rejection_in_the_batch_is_rejected_too(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(
        client, admin, event("k1", customer="nobody"), event("k1", customer="nobody")
    )

    assert [(r["status"], r["error"]["code"]) for r in result["results"]] == [
        ("rejected", "unknown_customer"),
        ("rejected", "unknown_customer"),
    ]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (0, 0, 2)
    assert event_count(engine) == 0


def test_a_rejected_event_does_not_claim_its_key_within_the_batch(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(
        client, admin, event("k1", customer="nobody"), event("k1"), event("k1", customer="nobody")
    )

    statuses = [(r["status"], (r["error"] or {}).get("path")) for r in result["results"]]
    assert statuses == [
        ("rejected", "$.events[0].customer_id"),
        ("accepted", None),
        ("rejected", "$.events[2].customer_id"),  # judged on its own, at its own index
    ]
    assert event_count(engine) == 1


def test_keys_are_unique_per_source(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    from_crm = {**event("k1"), "source": "crm"}

    result = post_events(client, admin, event("k1"), from_crm)

    assert result["accepted"] == 2
    assert stored_keys(engine) == [("api", "k1"), ("crm", "k1")]


def test_a_mixed_batch_stores_only_the_good_events(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    no_customer = event("bad-1")
    del no_customer["customer_id"]
    batch = [
        event("good-0"),
        no_customer,
        event("bad-2", customer="nobody"),
        event("good-3", customer="globex"),
        event("bad-4", at=START + timedelta(days=2)),
        event("bad-5", type="seats_changed", seats="many"),
        event("good-6", type="seats_changed", seats=12),
    ]

    result = post_events(client, admin, *batch)

    assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 0, 4)
    outcomes = [
        (r["index"], r["status"], (r["error"] or {}).get("code"), (r["error"] or {}).get("path"))
        for r in result["results"]
    ]
    assert outcomes == [
        (0, "accepted", None, None),
        (1, "rejected", "invalid_event", "$.events[1].customer_id"),
        (2, "rejected", "unknown_customer", "$.events[2].customer_id"),
        (3, "accepted", None, None),
        (4, "rejected", "occurred_in_future", "$.events[4].occurred_at"),
        (5, "rejected", "invalid_properties", "$.events[5].properties.seats"),
        (6, "accepted", None, None),
    ]
    assert all(r["error"]["message"] for r in result["results"] if r["error"])
    assert [r["idempotency_key"] for r in result["results"]] == [
        "good-0",
        "bad-1",
        "bad-2",
        "good-3",
        "bad-4",
        "bad-5",
        "good-6",
    ]
    assert stored_keys(engine) == [("api", "good-0"), ("api", "good-3"), ("api", "good-6")]
    assert client.get("/v1/customers/acme", headers=admin).json()["seats"] == 12


def test_an_unknown_customer_is_rejected(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(client, admin, event("k1", customer="nobody"))

    [outcome] = result["results"]
    assert outcome["status"] == "rejected"
    assert outcome["event_id"] is None
    assert outcome["error"]["code"] == "unknown_customer"
    assert outcome["error"]["path"] == "$.events[0].customer_id"
    assert "nobody" in outcome["error"]["message"]
    assert event_count(engine) == 0


def test_a_rejected_key_can_be_sent_again_once_fixed(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    post_events(client, admin, event("k1", customer="nobody"))

    result = post_events(client, admin, event("k1"))

    assert result["results"][0]["status"] == "accepted"
    assert event_count(engine) == 1


@pytest.mark.parametrize(
    ("ahead", "status"),
    [(timedelta(hours=1), "accepted"), (timedelta(hours=1, seconds=1), "rejected")],
)
def test_events_may_be_an_hour_ahead_of_the_clock_and_no_more(
    client: TestClient, admin: dict[str, str], engine: Engine, ahead: timedelta, status: str
) -> None:
    result = post_events(client, admin, event("k1", at=START + ahead))

    [outcome] = result["results"]
    assert outcome["status"] == status
    if status == "rejected":
        assert outcome["error"]["code"] == "occurred_in_future"
        assert outcome["error"]["path"] == "$.events[0].occurred_at"
    assert event_count(engine) == (1 if status == "accepted" else 0)


def test_properties_over_the_size_limit_are_rejected(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(client, admin, event("big", notes="x" * 40_000), event("small", notes="x"))

    assert [r["status"] for r in result["results"]] == ["rejected", "accepted"]
    error = result["results"][0]["error"]
    assert (error["code"], error["path"]) == ("properties_too_large", "$.events[0].properties")
    assert stored_keys(engine) == [("api", "small")]


def test_a_batch_of_1000_events_is_accepted(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    result = post_events(client, admin, *(event(f"k{n}") for n in range(1000)))

    assert result["accepted"] == 1000
    assert len({r["event_id"] for r in result["results"]}) == 1000
    assert event_count(engine) == 1000


def test_more_than_1000_events_is_a_413(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    batch = {"events": [event(f"k{n}") for n in range(1001)]}

    response = client.post("/v1/events", json=batch, headers=admin)

    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert event_count(engine) == 0


def test_malformed_json_is_a_400(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    response = client.post(
        "/v1/events",
        content=b'{"events": [{"type": "x",}]}',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_json"
    assert event_count(engine) == 0


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([event("k1")], "$"),
        ({}, "$.events"),
        ({"events": event("k1")}, "$.events"),
        ({"events": []}, "$.events"),
        ({"events": [event("k1")], "dry_run": True}, "$.dry_run"),
    ],
)
def test_a_bad_envelope_is_a_422_and_stores_nothing(
    client: TestClient, admin: dict[str, str], engine: Engine, document: Any, path: str
) -> None:
    response = client.post("/v1/events", json=document, headers=admin)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"]
    assert [d["path"] for d in error["details"]] == [path]
    assert event_count(engine) == 0


@pytest.mark.parametrize(("role", "status"), [("marketer", 403), ("support", 403), ("ingest", 200)])
def test_only_admin_and_ingest_keys_may_post(
    client: TestClient, keys: Any, engine: Engine, role: str, status: int
) -> None:
    response = client.post("/v1/events", json={"events": [event("k1")]}, headers=keys.headers(role))

    assert response.status_code == status, response.text
    assert event_count(engine) == (1 if status == 200 else 0)
