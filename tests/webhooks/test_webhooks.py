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

from loyalty_engine.app import create_app
from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.messaging.memory import InMemoryMailer
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from loyalty_engine.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    derived_secret,
    signature,
    verify,
)
from tests import pg
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
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

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


def rule(url: str, key: str = "tell-crm", *more: dict[str, Any]) -> dict[str, Any]:
    notify = {"type": "notify_webhook", "params": {"url": url, "event": "invoice.big"}}
    return {
        "key": key,
        "name": "Tell the CRM about big invoices",
        "triggers": ["invoice_paid"],
        "condition": {">=": [{"var": "event.properties.amount_minor"}, 10_000]},
        "actions": [notify, *more],
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


def queued_keys(runtime: Runtime) -> list[str]:
    with session_scope(runtime.engine, write=False) as session:
        stmt = select(OUTBOX.c.idempotency_key).order_by(OUTBOX.c.id)
        return list(session.execute(stmt).scalars())


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
    [decision] = client.get("/v1/customers/acme/decisions", headers=admin).json()["data"]
    assert sent["type"] == "invoice.big"
    assert sent["data"]["customer_id"] == "acme"
    assert sent["data"]["rule"] == {"key": "tell-crm", "version": 1}
    assert sent["data"]["decision_id"] == decision["id"]
    assert sent["data"]["event"]["properties"] == {"amount_minor": 50_000}
    assert sent["id"] == f"webhook:decision:{decision['id']}:action:0"
    assert headers["Loyalty-Delivery"] == sent["id"]
    assert headers["Content-Type"] == "application/json"
    secret = derived_secret(runtime.secret_key)
    now = int(runtime.clock.now().timestamp())
    assert headers[TIMESTAMP_HEADER] == str(now)
    assert headers[SIGNATURE_HEADER].startswith(f"t={now},v1=")
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
    receiver.statuses = [500, 200]
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


@pytest.mark.parametrize(
    ("params", "path", "says"),
    [
        ({"url": "http://crm.example/hook"}, "$.actions[0].params.url", "https"),
        ({"url": "ftp://crm.example/hook"}, "$.actions[0].params.url", "URL scheme"),
        ({"url": "crm"}, "$.actions[0].params.url", "URL"),
        ({"url": "https://bot:pw@crm.example/hook"}, "$.actions[0].params.url", "credentials"),
        ({"url": "https://crm.example/hook", "event": "Big!"}, "$.actions[0].params.event", ""),
        ({"url": "https://crm.example/hook", "colour": "red"}, "$.actions[0].params.colour", ""),
        ({}, "$.actions[0].params.url", "required"),
    ],
)
def test_bad_parameters_are_refused_at_save_with_their_path(
    client: TestClient, admin: dict[str, str], params: dict[str, Any], path: str, says: str
) -> None:
    body = {
        **rule("https://unused.example"),
        "actions": [{"type": "notify_webhook", "params": params}],
    }
    refused = client.post("/v1/rules", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["error"]["details"]
    assert problem["path"] == path
    assert says in problem["message"]
    assert client.get("/v1/rules", headers=admin).json() == []  # nothing saved


def test_https_and_loopback_urls_are_accepted(client: TestClient, admin: dict[str, str]) -> None:
    for n, url in enumerate(("https://crm.example/hook", "http://localhost:9/x", "http://[::1]/x")):
        saved = client.post("/v1/rules", json=rule(url, f"ok-{n}"), headers=admin)
        assert saved.status_code == 201, saved.text


def test_each_notify_action_of_a_decision_sends_its_own_message(
    client: TestClient,
    admin: dict[str, str],
    make_customer: Any,
    runtime: Runtime,
    receiver: Receiver,
) -> None:
    """Keys are the decision and the action's place: a second action to the same URL is another
    message; an identical copy of an action is the same message; a replayed event queues none."""
    make_customer("acme")
    audit = {"type": "notify_webhook", "params": {"url": receiver.url, "event": "audit.big"}}
    same = rule(receiver.url)["actions"][0]
    body = rule(receiver.url, "tell-crm", audit, same)
    assert client.post("/v1/rules", json=body, headers=admin).status_code == 201
    pay(client, admin, "inv-1")
    pay(client, admin, "inv-1")  # the same event again: a duplicate, no new decision

    [decision] = client.get("/v1/customers/acme/decisions", headers=admin).json()["data"]
    prefix = f"webhook:decision:{decision['id']}:action:"
    assert queued_keys(runtime) == [prefix + "0", prefix + "1"]
    assert [r.get("queued") for r in decision["results"]] == [True, True, False]
    assert OutboxWorker(runtime).run_once().delivered == 2
    types = sorted(orjson.loads(body)["type"] for _, body in receiver.received)
    assert types == ["audit.big", "invoice.big"]


def test_an_unreachable_receiver_is_retried(
    client: TestClient, admin: dict[str, str], make_customer: Any, runtime: Runtime
) -> None:
    make_customer("acme")
    closed = f"http://127.0.0.1:{pg.free_port()}/hook"  # nothing listens there
    client.post("/v1/rules", json=rule(closed), headers=admin)
    pay(client, admin, "inv-1")

    assert OutboxWorker(runtime).run_once().retried == 1
    assert statuses(runtime) == ["pending"]


def test_a_configured_secret_signs_the_deliveries(
    db_url: str, clock: FrozenClock, receiver: Receiver
) -> None:
    settings = Settings(database_url=db_url, webhook_secret="shared-with-the-receiver")
    app = create_app(
        settings, clock=clock, billing=InMemoryBillingGateway(), mailer=InMemoryMailer()
    )
    try:
        with TestClient(app) as client:
            runtime: Runtime = app.state.runtime
            admin = _admin_headers(runtime)
            client.put("/v1/customers/acme", json={}, headers=admin)
            client.post("/v1/rules", json=rule(receiver.url), headers=admin)
            pay(client, admin, "inv-1")
            assert OutboxWorker(runtime).run_once().delivered == 1
    finally:
        app.state.runtime.engine.dispose()
    [(headers, body)] = receiver.received
    now = int(clock.now().timestamp())
    assert verify("shared-with-the-receiver", headers[SIGNATURE_HEADER], body, now=now)
    assert not verify(derived_secret(runtime.secret_key), headers[SIGNATURE_HEADER], body, now=now)


def _admin_headers(runtime: Runtime) -> dict[str, str]:
    with session_scope(runtime.engine, write=True) as session:
        _, key = auth.create_api_key(session, name="t", role=Role.ADMIN, now=runtime.clock.now())
    return {"Authorization": f"Bearer {key}"}


def test_signatures_verify_only_with_their_secret_and_header() -> None:
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
