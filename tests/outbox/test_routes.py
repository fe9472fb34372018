"""`GET /v1/outbox` for admin and support, `POST /v1/outbox/{id}/retry` for admin."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from loyalty_engine.billing import BillingError, InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.outbox.models import OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from tests.conftest import Keys
from tests.outbox.conftest import Enqueue, Read, credit


@pytest.fixture
def outcomes(
    enqueue: Enqueue, worker: OutboxWorker, billing: InMemoryBillingGateway, clock: FrozenClock
) -> dict[str, int]:
    """One message of each status; the worker takes them in order, and the first call fails."""
    dead = enqueue("credit:bad", payload=credit(200, customer="cus_bad"))
    delivered = enqueue("credit:ok", payload=credit(100, customer="cus_ok"))
    billing.fail_next(1, BillingError("unknown customer cus_bad", retryable=False))
    assert worker.run_once().claimed == 2
    clock.advance(minutes=1)
    pending = enqueue("credit:later", payload=credit(300, customer="cus_later"))
    return {"dead": dead, "delivered": delivered, "pending": pending}


@pytest.mark.parametrize("role", ["admin", "support"])
def test_admin_and_support_list_messages_newest_first(
    client: TestClient, keys: Keys, outcomes: dict[str, int], role: str
) -> None:
    response = client.get("/v1/outbox", headers=keys.headers(role))

    assert response.status_code == 200, response.text
    page = response.json()
    assert [m["id"] for m in page["data"]] == [
        outcomes["pending"],
        outcomes["delivered"],
        outcomes["dead"],
    ]
    assert [m["status"] for m in page["data"]] == ["pending", "delivered", "dead"]
    assert page["next_cursor"] is None
    dead = page["data"][2]
    assert dead["idempotency_key"] == "credit:bad"
    assert dead["last_error"] == "permanent: unknown customer cus_bad"
    assert dead["attempts"] == 1


@pytest.mark.parametrize("status", list(OutboxStatus))
def test_the_listing_filters_by_status(
    client: TestClient, admin: dict[str, str], outcomes: dict[str, int], status: OutboxStatus
) -> None:
    response = client.get("/v1/outbox", params={"status": status.value}, headers=admin)

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == [outcomes[status.value]]


def test_the_listing_filters_by_kind_and_refuses_unknown_statuses(
    client: TestClient, admin: dict[str, str], outcomes: dict[str, int]
) -> None:
    by_kind = client.get("/v1/outbox", params={"kind": "email.send"}, headers=admin)
    bad_status = client.get("/v1/outbox", params={"status": "lost"}, headers=admin)

    assert by_kind.json()["data"] == []
    assert bad_status.status_code == 422


def test_the_listing_pages_with_a_cursor(
    client: TestClient, admin: dict[str, str], outcomes: dict[str, int]
) -> None:
    first = client.get("/v1/outbox", params={"limit": 2}, headers=admin).json()
    second = client.get(
        "/v1/outbox", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
    ).json()
    forged = client.get("/v1/outbox", params={"cursor": "not-a-cursor"}, headers=admin)

    assert [m["id"] for m in first["data"]] == [outcomes["pending"], outcomes["delivered"]]
    assert [m["id"] for m in second["data"]] == [outcomes["dead"]]
    assert second["next_cursor"] is None
    assert forged.status_code == 422


def test_retrying_a_dead_message_requeues_it_and_it_is_delivered(
    client: TestClient,
    admin: dict[str, str],
    outcomes: dict[str, int],
    worker: OutboxWorker,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
) -> None:
    response = client.post(f"/v1/outbox/{outcomes['dead']}/retry", headers=admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["attempts"]) == ("pending", 0)
    assert datetime.fromisoformat(body["next_attempt_at"]) == clock.now()
    report = worker.run_once()
    assert report.delivered == 2  # the requeued one, and the pending one
    assert read(outcomes["dead"]).status == OutboxStatus.DELIVERED
    assert billing.balances["cus_bad"] == -200


@pytest.mark.parametrize("status", ["pending", "delivered"])
def test_retrying_a_message_that_is_not_dead_is_a_conflict(
    client: TestClient, admin: dict[str, str], outcomes: dict[str, int], read: Read, status: str
) -> None:
    message_id = outcomes[status]

    response = client.post(f"/v1/outbox/{message_id}/retry", headers=admin)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "outbox_message_not_dead"
    assert response.json()["error"]["details"] == {"status": status}
    assert read(message_id).status == status


def test_retrying_a_missing_message_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/v1/outbox/424242/retry", headers=admin)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "outbox_message_not_found"


def test_support_may_look_but_not_retry(
    client: TestClient, keys: Keys, outcomes: dict[str, int], read: Read
) -> None:
    response = client.post(f"/v1/outbox/{outcomes['dead']}/retry", headers=keys.headers("support"))

    assert response.status_code == 403
    assert read(outcomes["dead"]).status == OutboxStatus.DEAD
