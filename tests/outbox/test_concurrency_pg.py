"""PostgreSQL: concurrent workers claim disjoint messages (SKIP LOCKED) and deliver each once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from loyalty_engine.billing.delivery import APPLY_CREDIT
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.outbox.worker import OutboxWorker, WorkerReport
from loyalty_engine.runtime import Runtime
from tests.outbox.conftest import credit

LEASE = timedelta(minutes=2)


def fill(runtime: Runtime, count: int) -> list[str]:
    keys = [f"credit:{n}" for n in range(count)]
    with session_scope(runtime.engine, write=True) as session:
        for n, key in enumerate(keys):
            service.enqueue(
                session,
                kind=APPLY_CREDIT,
                idempotency_key=key,
                payload=credit(100 + n, customer=f"cus_{n}"),
                now=runtime.clock.now(),
            )
    return keys


def claim(runtime: Runtime, worker_id: str, limit: int) -> set[int]:
    with session_scope(runtime.engine, write=True) as session:
        claimed = service.claim_due(
            session, now=runtime.clock.now(), worker_id=worker_id, limit=limit, lease=LEASE
        )
    return {d.message_id for d in claimed}


def test_a_second_claim_skips_rows_another_transaction_holds_instead_of_waiting(
    pg_runtime: Runtime,
) -> None:
    fill(pg_runtime, 10)
    first_holds_its_rows = threading.Event()
    second_done = threading.Event()
    first: dict[str, object] = {}

    def hold_a_claim_open() -> None:
        with session_scope(pg_runtime.engine, write=True) as session:
            claimed = service.claim_due(
                session, now=pg_runtime.clock.now(), worker_id="first", limit=4, lease=LEASE
            )
            first["ids"] = {d.message_id for d in claimed}
            first_holds_its_rows.set()
            # Still inside the transaction: its row locks are held until the second claim ends.
            first["second_finished_meanwhile"] = second_done.wait(timeout=10)

    holder = threading.Thread(target=hold_a_claim_open)
    holder.start()
    try:
        assert first_holds_its_rows.wait(timeout=10)
        second = claim(pg_runtime, "second", limit=10)
        second_done.set()
    finally:
        second_done.set()
        holder.join(timeout=20)

    assert first["second_finished_meanwhile"] is True
    assert len(first["ids"]) == 4  # type: ignore[arg-type]
    assert len(second) == 6
    assert second.isdisjoint(first["ids"])  # type: ignore[arg-type]


def test_concurrent_workers_deliver_every_message_exactly_once(
    pg_runtime: Runtime, billing: InMemoryBillingGateway
) -> None:
    keys = fill(pg_runtime, 60)
    reports: list[WorkerReport] = []
    start = threading.Barrier(4)

    def work() -> None:
        worker = OutboxWorker(pg_runtime)
        start.wait(timeout=10)
        while (report := worker.run_once()).claimed:
            reports.append(report)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    calls = Counter(call["idempotency_key"] for call in billing.calls)
    assert calls == Counter(dict.fromkeys(keys, 1))
    assert sum(r.claimed for r in reports) == sum(r.delivered for r in reports) == len(keys)
    assert billing.effects == len(keys)
    with session_scope(pg_runtime.engine, write=False) as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert {(str(status), attempts) for status, attempts in rows} == {("delivered", 1)}
