"""Outbound webhooks against a real HTTP server on loopback: a rule's `notify_webhook` queues a
signed POST in the event's transaction; the outbox worker delivers it after commit, retries a
5xx, dead-letters a 4xx; a reward fulfilled by webhook goes the same way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from loyalty_engine.webhooks.signing import SIGNATURE_HEADER, derived_secret, signature, verify
from tests.conftest import START

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


class Receiver:
    """A loopback HTTP server answering each POST with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/loyalty"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def rule(url: str, key: str = "tell-crm") -> dict[str, Any]:
    return {
        "key": key,
        "name": "Tell the CRM about big invoices",
        "triggers": ["invoice_paid"],
        "condition": {">=": [{"var": "event.properties.amount_minor"}, 10_000]},
        "actions": [{"type": "notify_webhook", "params": {"url": url, "event": "invoice.big"}}],
        "activate": True,
    }


def pay(client: TestClient, admin: dict[str, str], key: str, amount: int = 50_000) -> None:
    event = {
        "type": "invoice_paid",
        "customer_id": "acme",
        "idempotency_key": key,
        "occurred_at": START.isoformat(),
        "properties": {"amount_minor": amount},
    }
    assert client.post("/v1/events", json={"events": [event]}, headers=admin).status_code == 200


def statuses(runtime: Runtime) -> list[str]:
    with session_scope(runtime.engine, write=False) as session:
        return list(session.execute(select(OUTBOX.c.status).order_by(OUTBOX.c.id)).scalars())


def test_a_matching_event_queues_a_signed_post_that_the_worker_delivers(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Any,
    runtime: Runtime,
    receiver: Receiver,
) -> None:
    make_customer("acme")
    assert client.post("/v1/rules", json=rule(receiver.url), headers=admin).status_code == 201
    pay(client, admin, "inv-1")
    pay(client, admin, "inv-2", amount=10)  # below the threshold: nothing queued

    assert statuses(runtime) == ["pending"]  # queued with the event, not sent during it
    assert receiver.received == []
    report = OutboxWorker(runtime).run_once()

    assert report.delivered == 1
    assert statuses(runtime) == ["delivered"]
    [(headers, body)] = receiver.received
    sent = orjson.loads(body)
    assert sent["type"] == "invoice.big"
    assert sent["data"]["customer_id"] == "acme"
    assert sent["data"]["event"]["properties"] == {"amount_minor": 50_000}
    assert headers["Loyalty-Delivery"] == sent["id"]
    secret = derived_secret(runtime.secret_key)
    now = int(runtime.clock.now().timestamp())
    assert verify(secret, headers[SIGNATURE_HEADER], body, now=now)
    assert not verify(secret, headers[SIGNATURE_HEADER], body + b" ", now=now)
    assert not verify("another secret", headers[SIGNATURE_HEADER], body, now=now)
    assert not verify(secret, headers[SIGNATURE_HEADER], body, now=now + 3_600)  # replayed later


def test_a_server_error_is_retried_and_a_refusal_is_dead_lettered(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Any,
    runtime: Runtime,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    make_customer("acme")
    client.post("/v1/rules", json=rule(receiver.url), headers=admin)
    receiver.statuses = [503, 200]
    pay(client, admin, "inv-1")
    worker = OutboxWorker(runtime)

    assert worker.run_once().retried == 1
    assert statuses(runtime) == ["pending"]
    clock.advance(timedelta(hours=1))
    assert worker.run_once().delivered == 1
    assert len(receiver.received) == 2  # the same delivery id both times
    assert (
        receiver.received[0][0]["Loyalty-Delivery"] == receiver.received[1][0]["Loyalty-Delivery"]
    )

    receiver.statuses = [400]
    pay(client, admin, "inv-3")
    assert worker.run_once().dead == 1
    assert statuses(runtime) == ["delivered", "dead"]


def test_urls_must_be_https_unless_on_loopback(client: TestClient, admin: dict[str, str]) -> None:
    refused = client.post("/v1/rules", json=rule("http://crm.example/hook"), headers=admin)
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["details"]
    assert problem["path"] == "$.actions[0].params.url"
    assert "https" in problem["message"]
    not_a_url = client.post("/v1/rules", json=rule("crm"), headers=admin)
    assert not_a_url.status_code == 422
    fine = client.post("/v1/rules", json=rule("https://crm.example/hook", "ok"), headers=admin)
    assert fine.status_code == 201


def test_a_configured_secret_signs_instead_of_the_derived_one() -> None:
    body = b'{"id":"x"}'
    header = signature("shared-with-receiver", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify("shared-with-receiver", header, body, now=1_700_000_100)
    assert not verify("shared-with-receiver", "v1=abc", body, now=1_700_000_000)
    assert derived_secret("instance") != "instance"


def test_a_webhook_reward_is_delivered_to_the_fulfilment_url(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Any,
    runtime: Runtime,
    receiver: Receiver,
) -> None:
    make_customer("acme")
    hoodie = {
        "key": "hoodie",
        "name": "Hoodie",
        "kind": "webhook",
        "cost_points": 100,
        "fulfilment": {"url": receiver.url},
    }
    assert client.post("/v1/rewards", json=hoodie, headers=admin).status_code == 201
    client.post(
        "/v1/customers/acme/adjustments",
        json={"unit": "points", "amount": 100, "reason": "funds"},
        headers={**admin, "Idempotency-Key": "f"},
    )
    redeemed = client.post(
        "/v1/customers/acme/rewards/hoodie/redemptions",
        headers={**admin, "Idempotency-Key": "h"},
    ).json()

    assert OutboxWorker(runtime).run_once().delivered == 1
    sent = orjson.loads(receiver.received[0][1])
    assert (sent["type"], sent["data"]["reward"], sent["data"]["points"]) == (
        "reward.redeemed",
        "hoodie",
        100,
    )
    listed = client.get("/v1/customers/acme/reward-redemptions", headers=admin).json()
    assert [(r["id"], r["fulfilment_status"]) for r in listed] == [(redeemed["id"], "delivered")]
