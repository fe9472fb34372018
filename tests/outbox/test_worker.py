"""The delivery worker: one effect per message, retries with backoff, dead letters, leases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty_engine.billing import BillingError, InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service
from loyalty_engine.outbox.delivery import Delivery, DeliveryPaused
from loyalty_engine.outbox.models import OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from tests.outbox.conftest import Enqueue, Read, credit


def retryable(message: str = "billing answered 503", after: float | None = None) -> BillingError:
    return BillingError(message, retryable=True, retry_after_seconds=after)


def test_a_credit_is_delivered_to_the_billing_gateway(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
) -> None:
    message_id = enqueue("credit:ref-1", payload=credit(500, customer="cus_acme"))
    assert billing.balances == {}

    report = worker.run_once()

    message = read(message_id)
    assert (report.claimed, report.delivered) == (1, 1)
    assert billing.balances == {"cus_acme": -500}
    assert [call["idempotency_key"] for call in billing.calls] == ["credit:ref-1"]
    assert message.status == OutboxStatus.DELIVERED
    assert message.delivered_at == clock.now()
    assert message.attempts == 1
    assert message.result is not None
    assert message.result["amount_minor"] == 500
    assert message.locked_until is None
    assert worker.run_once().claimed == 0


def test_a_batch_is_delivered_in_order_and_one_failure_does_not_hold_up_the_rest(
    worker: OutboxWorker, enqueue: Enqueue, read: Read, billing: InMemoryBillingGateway
) -> None:
    ids = [enqueue(f"credit:{n}", payload=credit(100 * n, customer=f"cus_{n}")) for n in (1, 2, 3)]
    billing.fail_next(1, BillingError("no such customer", retryable=False))

    report = worker.run_once()

    assert (report.claimed, report.delivered, report.dead) == (3, 2, 1)
    assert [call["customer"] for call in billing.calls] == ["cus_1", "cus_2", "cus_3"]
    assert [read(i).status for i in ids] == [
        OutboxStatus.DEAD,
        OutboxStatus.DELIVERED,
        OutboxStatus.DELIVERED,
    ]
    assert billing.balances == {"cus_2": -200, "cus_3": -300}


def test_a_crashed_delivery_is_claimed_again_after_its_lease_and_has_one_effect(
    runtime: Runtime,
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    message_id = enqueue("credit:ref-1", payload=credit(500))
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    # Another worker claims the message, reaches the gateway, and dies before recording it.
    with session_scope(runtime.engine, write=True) as session:
        [claimed] = service.claim_due(
            session, now=clock.now(), worker_id="doomed", limit=10, lease=lease
        )
    handler = runtime.deliveries.handler_for(claimed.kind)
    assert handler is not None
    handler(claimed)

    clock.advance(lease - timedelta(seconds=1))
    while_leased = worker.run_once()
    clock.advance(seconds=1)
    after_lease = worker.run_once()

    assert while_leased.claimed == 0
    assert (after_lease.claimed, after_lease.delivered) == (1, 1)
    assert [call["idempotency_key"] for call in billing.calls] == ["credit:ref-1", "credit:ref-1"]
    assert billing.effects == 1
    assert billing.balances == {"cus_acme": -500}
    assert read(message_id).status == OutboxStatus.DELIVERED
    assert read(message_id).attempts == 2


def test_a_worker_whose_lease_lapsed_cannot_reschedule_the_new_claim(
    runtime: Runtime, enqueue: Enqueue, read: Read, clock: FrozenClock, settings: Settings
) -> None:
    message_id = enqueue("credit:ref-2")
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    with session_scope(runtime.engine, write=True) as session:
        service.claim_due(session, now=clock.now(), worker_id="slow", limit=1, lease=lease)
    clock.advance(lease)
    with session_scope(runtime.engine, write=True) as session:
        [fresh] = service.claim_due(
            session, now=clock.now(), worker_id="fresh", limit=1, lease=lease
        )
    far = clock.now() + timedelta(days=1)

    with session_scope(runtime.engine, write=True) as session:  # the slow one finally fails
        service.record_failure(
            session, message_id=message_id, worker_id="slow", error="timeout", retry_at=None
        )
        service.release(
            session, message_id=message_id, worker_id="slow", retry_at=far, reason="paused"
        )

    message = read(message_id)
    assert (message.status, message.locked_by, message.last_error) == (
        OutboxStatus.PENDING,
        "fresh",
        None,
    )
    assert message.attempts == fresh.attempt == 2


def test_a_retryable_failure_keeps_the_message_pending_with_backoff(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    message_id = enqueue("credit:ref-1")
    billing.fail_next(1, retryable("billing answered 503"))
    failed_at = clock.now()

    report = worker.run_once()

    message = read(message_id)
    base = timedelta(seconds=settings.outbox_backoff_base_seconds)
    assert report.retried == 1
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error == "billing answered 503"
    assert message.locked_until is None
    assert failed_at + base / 2 <= message.next_attempt_at <= failed_at + base
    assert billing.balances == {}

    clock.set(message.next_attempt_at - timedelta(milliseconds=1))
    assert worker.run_once().claimed == 0
    clock.set(message.next_attempt_at)
    assert worker.run_once().delivered == 1
    assert read(message_id).status == OutboxStatus.DELIVERED
    assert billing.balances == {"cus_acme": -500}


def test_messages_that_fail_together_retry_at_jittered_times(
    worker: OutboxWorker, enqueue: Enqueue, read: Read, billing: InMemoryBillingGateway
) -> None:
    ids = [enqueue(f"credit:{n}", payload=credit(customer=f"cus_{n}")) for n in range(5)]
    billing.fail_next(5, retryable())

    assert worker.run_once().retried == 5

    assert len({read(i).next_attempt_at for i in ids}) == 5


def test_retries_back_off_exponentially_and_the_last_allowed_attempt_dead_letters(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    message_id = enqueue("credit:ref-1")
    billing.fail_next(settings.outbox_max_attempts, retryable("timeout talking to billing"))
    base = settings.outbox_backoff_base_seconds
    delays = []

    for attempt in range(1, settings.outbox_max_attempts):
        failed_at = clock.now()
        assert worker.run_once().retried == 1
        message = read(message_id)
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, attempt)
        delays.append((message.next_attempt_at - failed_at).total_seconds())
        clock.set(message.next_attempt_at)
    last = worker.run_once()

    message = read(message_id)
    for attempt, delay in enumerate(delays, 1):
        nominal = base * 2 ** (attempt - 1)
        assert nominal / 2 <= delay <= nominal, (attempt, delay)
    assert last.dead == 1
    assert message.status == OutboxStatus.DEAD
    assert message.attempts == settings.outbox_max_attempts == 3
    assert message.last_error == "gave up after 3 attempts: timeout talking to billing"
    clock.advance(days=1)
    assert worker.run_once().claimed == 0
    assert billing.balances == {}


def test_retry_after_from_the_receiver_is_honoured(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
) -> None:
    message_id = enqueue("credit:ref-1")
    billing.fail_next(1, retryable("rate limited", after=30))

    worker.run_once()

    assert read(message_id).next_attempt_at == clock.now() + timedelta(seconds=30)


def test_a_permanent_failure_dead_letters_at_once(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
) -> None:
    message_id = enqueue("credit:ref-1")
    billing.fail_next(1, BillingError("currency EUR not enabled for this account", retryable=False))

    report = worker.run_once()

    message = read(message_id)
    assert report.dead == 1
    assert message.status == OutboxStatus.DEAD
    assert message.attempts == 1
    assert message.last_error == "permanent: currency EUR not enabled for this account"
    clock.advance(days=1)
    assert worker.run_once().claimed == 0


@pytest.mark.parametrize(
    ("kind", "payload", "error"),
    [
        ("billing.apply_credit", {"amount_minor": 5}, "KeyError: 'billing_customer_id'"),
        ("crm.sync", {}, "no handler registered for kind 'crm.sync'"),
    ],
    ids=["handler bug", "unknown kind"],
)
def test_unexpected_errors_are_retried_like_transient_ones(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    kind: str,
    payload: dict[str, int],
    error: str,
) -> None:
    message_id = enqueue("msg:1", payload=payload, kind=kind)

    report = worker.run_once()

    message = read(message_id)
    assert report.retried == 1
    assert (message.status, message.attempts, message.last_error) == (
        OutboxStatus.PENDING,
        1,
        error,
    )


def test_a_paused_receiver_gives_the_message_back_without_spending_an_attempt(
    runtime: Runtime,
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    def refuse(_: Delivery) -> None:
        raise DeliveryPaused("API key rejected")

    runtime.deliveries.register("test.paused", refuse)
    message_id = enqueue("paused:1", payload={}, kind="test.paused")

    report = worker.run_once()

    message = read(message_id)
    assert report.paused == 1
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
    assert message.last_error == "paused: API key rejected"
    assert message.next_attempt_at == clock.now() + timedelta(
        seconds=settings.outbox_backoff_max_seconds / 60
    )
    assert message.locked_until is None
