"""`enqueue`: a message is part of the caller's transaction, and its idempotency key is unique."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from tests.outbox.conftest import Enqueue, Read, credit


def keys_in_outbox(runtime: Runtime) -> list[str]:
    with session_scope(runtime.engine, write=False) as session:
        keys = session.execute(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id))
        return list(keys.scalars())


def test_a_message_starts_pending_and_due_now(
    runtime: Runtime, enqueue: Enqueue, read: Read
) -> None:
    message = read(enqueue("credit:1", payload=credit(700)))

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 0
    assert message.payload == credit(700)
    assert message.next_attempt_at == message.created_at == runtime.clock.now()
    assert message.last_error is None
    assert message.delivered_at is None


def test_a_message_commits_with_the_callers_transaction(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with session_scope(runtime.engine, write=True) as session:
        service.enqueue(
            session,
            kind="billing.apply_credit",
            idempotency_key="credit:1",
            payload=credit(),
            now=now,
        )
        service.enqueue(
            session,
            kind="email.send",
            idempotency_key="mail:1",
            payload={"to": "a@example.com", "subject": "hi", "text": "hi"},
            now=now,
        )
        # Another connection does not see the messages before the caller commits.
        assert keys_in_outbox(runtime) == []

    assert keys_in_outbox(runtime) == ["credit:1", "mail:1"]


def test_a_message_is_rolled_back_with_the_callers_transaction(runtime: Runtime) -> None:
    class Boom(Exception):
        pass

    enqueued: list[bool] = []

    def enqueue_then_fail() -> None:
        with session_scope(runtime.engine, write=True) as session:
            enqueued.append(
                service.enqueue(
                    session,
                    kind="billing.apply_credit",
                    idempotency_key="credit:1",
                    payload=credit(),
                    now=runtime.clock.now(),
                )
            )
            raise Boom

    with pytest.raises(Boom):
        enqueue_then_fail()

    assert enqueued == [True]
    assert keys_in_outbox(runtime) == []


def test_a_repeated_idempotency_key_is_a_no_op(
    runtime: Runtime, enqueue: Enqueue, read: Read
) -> None:
    first = enqueue("credit:1", payload=credit(500))

    with session_scope(runtime.engine, write=True) as session:
        again = service.enqueue(
            session,
            kind="billing.apply_credit",
            idempotency_key="credit:1",
            payload=credit(9_999),
            now=runtime.clock.now(),
        )
        also_in_one_transaction = [
            service.enqueue(
                session,
                kind="email.send",
                idempotency_key="mail:1",
                payload={},
                now=runtime.clock.now(),
            )
            for _ in range(2)
        ]

    assert again is False
    assert also_in_one_transaction == [True, False]
    assert keys_in_outbox(runtime) == ["credit:1", "mail:1"]
    assert read(first).payload == credit(500)
    with session_scope(runtime.engine, write=False) as session:
        assert session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 2


def test_a_message_for_later_waits_until_it_is_due(
    runtime: Runtime, worker: OutboxWorker, read: Read
) -> None:
    clock = runtime.clock
    with session_scope(runtime.engine, write=True) as session:
        service.enqueue(
            session,
            kind="billing.apply_credit",
            idempotency_key="credit:later",
            payload=credit(),
            now=clock.now(),
            deliver_at=clock.now() + timedelta(hours=1),
        )

    early = worker.run_once()
    clock.advance(hours=1)  # type: ignore[attr-defined]
    due = worker.run_once()

    assert (early.claimed, due.delivered) == (0, 1)
