"""Billing delivery outcomes: Stripe's errors become retry, dead-letter or pause; a paused gateway
raises an alert (in /readyz and /v1/billing/status) and is probed once per interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from fastapi.testclient import TestClient

from loyalty_engine.billing.delivery import APPLY_RENEWAL_DISCOUNT
from loyalty_engine.billing.gateway import BillingError, FailureKind
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.billing.stripe_gateway import _mapped
from loyalty_engine.billing.throttle import Throttle
from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service as outbox
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime


def discount(runtime: Runtime, key: str) -> int:
    with session_scope(runtime.engine, write=True) as session:
        outbox.enqueue(
            session,
            kind=APPLY_RENEWAL_DISCOUNT,
            idempotency_key=key,
            payload={"billing_customer_id": "cus_acme", "percent_off_bps": 1500},
            now=runtime.clock.now(),
        )
        found = session.query(OutboxMessage).filter_by(idempotency_key=key).one()
        assert found.id is not None
        return found.id


def message(runtime: Runtime, message_id: int) -> OutboxMessage:
    with session_scope(runtime.engine, write=False) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def test_refused_credentials_pause_billing_raise_an_alert_and_the_next_success_clears_it(
    runtime: Runtime,
    client: TestClient,
    admin: dict[str, str],
    clock: FrozenClock,
    billing: InMemoryBillingGateway,
) -> None:
    worker = OutboxWorker(runtime)
    billing.fail_next(
        1, BillingError("Invalid API Key provided: sk_live_***", kind=FailureKind.AUTHENTICATION)
    )
    first = discount(runtime, "renewal-discount:1:2027-01-01")
    assert worker.run_once().paused == 1
    paused = message(runtime, first)
    assert paused.status == OutboxStatus.PENDING
    assert paused.attempts == 0  # a pause spends no attempt
    ready = client.get("/readyz")
    assert ready.status_code == 200  # the API still serves everything else
    [alert] = ready.json()["alerts"]
    assert alert["source"] == "billing:memory"
    assert "Invalid API Key" in alert["message"]
    status = client.get("/v1/billing/status", headers=admin).json()
    assert status["alerts"][0]["kind"] == "authentication"

    # Within the probe interval another message does not even reach the billing system.
    second = discount(runtime, "renewal-discount:2:2027-01-01")
    calls = len(billing.calls)
    assert worker.run_once().paused == 1
    assert len(billing.calls) == calls
    assert message(runtime, second).attempts == 0

    clock.advance(timedelta(seconds=3_600))  # the key was fixed meanwhile
    report = worker.run_once()
    assert report.delivered == 2
    assert client.get("/readyz").json()["alerts"] == []
    assert client.get("/v1/billing/status", headers=admin).json()["alerts"] == []
    assert billing.effects == 2


def test_a_new_process_sees_the_alert_another_one_raised(
    runtime: Runtime, clock: FrozenClock, billing: InMemoryBillingGateway
) -> None:
    billing.fail_next(1, BillingError("expired key", kind=FailureKind.AUTHENTICATION))
    discount(runtime, "k1")
    assert OutboxWorker(runtime).run_once().paused == 1
    # Another process (fresh registry and pause state) starts while the alert is open: it
    # probes once, then waits.
    from loyalty_engine.billing.delivery import register_billing_deliveries
    from loyalty_engine.outbox.delivery import DeliveryRegistry

    registry = DeliveryRegistry()
    register_billing_deliveries(registry, billing, engine=runtime.engine, now=clock.now)
    runtime.deliveries = registry
    discount(runtime, "k2")
    discount(runtime, "k3")
    billing.fail_next(1, BillingError("expired key", kind=FailureKind.AUTHENTICATION))
    calls = len(billing.calls)
    report = OutboxWorker(runtime).run_once()
    assert report.paused == 2
    assert len(billing.calls) == calls + 1  # one probe, not one call per message


@pytest.mark.parametrize(
    ("error", "kind", "retry_after"),
    [
        (
            stripe.RateLimitError(
                "Too many requests", http_status=429, headers={"Retry-After": "7"}
            ),
            FailureKind.RETRY,
            7.0,
        ),
        (stripe.APIError("internal", http_status=500), FailureKind.RETRY, None),
        (stripe.APIError("bad gateway", http_status=502), FailureKind.RETRY, None),
        (stripe.APIConnectionError("timed out"), FailureKind.RETRY, None),
        (
            stripe.InvalidRequestError("No such customer: 'cus_x'", "customer", http_status=404),
            FailureKind.PERMANENT,
            None,
        ),
        (
            stripe.IdempotencyError("Keys for idempotent requests...", http_status=400),
            FailureKind.PERMANENT,
            None,
        ),
        (
            stripe.AuthenticationError("Invalid API Key", http_status=401),
            FailureKind.AUTHENTICATION,
            None,
        ),
        (
            stripe.PermissionError("restricted key", http_status=403),
            FailureKind.AUTHENTICATION,
            None,
        ),
    ],
)
def test_stripe_errors_map_to_outcomes(
    error: stripe.StripeError, kind: FailureKind, retry_after: float | None
) -> None:
    def fail() -> None:
        raise error

    with pytest.raises(BillingError) as raised:
        _mapped(fail)
    assert raised.value.kind is kind
    assert raised.value.retry_after_seconds == retry_after
    assert str(error.user_message or "") in str(raised.value)


def test_the_throttle_keeps_writes_below_the_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(25, monotonic=lambda: now[0], sleep=sleep)
    waits = [throttle.acquire() for _ in range(75)]
    assert waits[:25] == [0.0] * 25  # a burst of one second's budget
    assert now[0] == pytest.approx(2.0)  # then 25 per second: 50 more take two seconds
    assert all(w == pytest.approx(0.04) for w in waits[25:])
    with pytest.raises(ValueError, match="positive"):
        Throttle(0)
