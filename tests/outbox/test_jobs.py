"""`purge_delivered`: the scheduled job drops delivered messages past retention, never dead ones."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from loyalty_engine.billing import BillingError, InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.jobs import purge_delivered
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime, current
from tests.outbox.conftest import Enqueue


def outbox(runtime: Runtime) -> dict[str, str]:
    """Idempotency key -> status of every message left."""
    with session_scope(runtime.engine, write=False) as session:
        rows = session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
        return {key: str(status) for key, status in rows}


def test_purge_drops_delivered_messages_older_than_retention_only(
    runtime: Runtime,
    worker: OutboxWorker,
    enqueue: Enqueue,
    billing: InMemoryBillingGateway,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    assert current() is runtime  # app start-up installed it for the job
    retention = timedelta(days=settings.outbox_delivered_retention_days)
    enqueue("credit:dead")
    enqueue("credit:old")
    billing.fail_next(1, BillingError("refused", retryable=False))
    worker.run_once()
    enqueue("crm:stuck", payload={}, kind="crm.unknown")  # stays pending: no handler
    clock.advance(retention - timedelta(days=10))
    enqueue("credit:recent")
    worker.run_once()
    clock.advance(days=10, seconds=1)

    first = purge_delivered()
    left = outbox(runtime)
    again = purge_delivered()
    clock.advance(days=20)  # now `credit:recent` is past retention too
    later = purge_delivered()

    assert first == 1
    assert left == {"credit:dead": "dead", "crm:stuck": "pending", "credit:recent": "delivered"}
    assert again == 0
    assert later == 1
    assert outbox(runtime) == {"credit:dead": "dead", "crm:stuck": "pending"}
