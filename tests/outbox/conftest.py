"""Outbox fixtures: enqueue a message in its own transaction, read it back, a worker."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from loyalty_engine.app import build_runtime, prepare
from loyalty_engine.billing.delivery import APPLY_CREDIT
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.messaging.memory import InMemoryMailer
from loyalty_engine.outbox import service
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from loyalty_engine.schema import metadata
from tests.conftest import START

Enqueue = Callable[..., int]
Read = Callable[[int], OutboxMessage]


def credit(amount_minor: int = 500, customer: str = "cus_acme") -> dict[str, Any]:
    """The payload of a `billing.apply_credit` message."""
    return {"billing_customer_id": customer, "amount_minor": amount_minor, "currency": "EUR"}


@pytest.fixture
def enqueue(runtime: Runtime) -> Enqueue:
    """`enqueue(key, payload=..., kind=...)`: commit one message, return its id."""

    def add(key: str, payload: dict[str, Any] | None = None, kind: str = APPLY_CREDIT) -> int:
        with session_scope(runtime.engine, write=True) as session:
            assert service.enqueue(
                session,
                kind=kind,
                idempotency_key=key,
                payload=credit() if payload is None else payload,
                now=runtime.clock.now(),
            )
            found = session.execute(
                select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
            ).scalar_one()
        return int(found)

    return add


@pytest.fixture
def read(runtime: Runtime) -> Read:
    def get(message_id: int) -> OutboxMessage:
        with session_scope(runtime.engine, write=False) as session:
            message = session.get(OutboxMessage, message_id)
        assert message is not None, f"no outbox message {message_id}"
        return message

    return get


@pytest.fixture
def worker(runtime: Runtime) -> OutboxWorker:
    return OutboxWorker(runtime, rng=random.Random(2026))


@pytest.fixture
def pg_runtime(pg_template_url: str, billing: InMemoryBillingGateway) -> Iterator[Runtime]:
    """A PostgreSQL-only runtime on the session's database, emptied first (it is shared)."""
    engine = make_engine(pg_template_url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    settings = Settings(database_url=pg_template_url, outbox_batch_size=3, outbox_max_attempts=3)
    runtime = build_runtime(
        settings, clock=FrozenClock(START), billing=billing, mailer=InMemoryMailer()
    )
    prepare(runtime)
    yield runtime
    runtime.engine.dispose()
