"""`loyalty outbox list|retry`: find dead messages and send them through delivery again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from loyalty_engine.billing import BillingError, InMemoryBillingGateway
from loyalty_engine.cli import app as cli
from loyalty_engine.clock import FrozenClock
from loyalty_engine.outbox.models import OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from loyalty_engine.runtime import Runtime
from tests.outbox.conftest import Enqueue, Read, credit

Loyalty = Callable[..., Result]


@pytest.fixture
def loyalty(db_url: str, runtime: Runtime) -> Loyalty:
    """Run `loyalty ...` on the test database (after the app started on it)."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), env={"DATABASE_URL": db_url})

    return run


@pytest.fixture
def dead(enqueue: Enqueue, worker: OutboxWorker, billing: InMemoryBillingGateway) -> list[int]:
    """Three dead credits (the gateway refused each), and one delivered."""
    ids = [enqueue(f"credit:{n}", payload=credit(100 * n, customer=f"cus_{n}")) for n in (1, 2, 3)]
    enqueue("credit:fine", payload=credit(50, customer="cus_fine"))
    billing.fail_next(3, BillingError("account suspended", retryable=False))
    assert worker.run_once().dead == 3
    return ids


def deliver_requeued(worker: OutboxWorker, read: Read, clock: FrozenClock, ids: list[int]) -> int:
    """The CLI requeues on the wall clock; bring the frozen clock up to it, then deliver."""
    clock.set(max([clock.now(), *(read(i).next_attempt_at for i in ids)]))
    return worker.run_once().delivered


def test_outbox_list_shows_dead_messages(loyalty: Loyalty, dead: list[int]) -> None:
    result = loyalty("outbox", "list", "--status", "dead")

    assert result.exit_code == 0, result.output
    assert result.stdout.count("billing.apply_credit") == 3
    assert "account suspended" in result.stdout
    assert "credit:fine" not in result.stdout


def test_outbox_retry_by_id_requeues_only_that_message(
    loyalty: Loyalty,
    dead: list[int],
    read: Read,
    worker: OutboxWorker,
    clock: FrozenClock,
    billing: InMemoryBillingGateway,
) -> None:
    result = loyalty("outbox", "retry", str(dead[1]))

    assert result.exit_code == 0, result.output
    assert "Requeued 1 dead message(s)." in result.stdout
    assert [(read(i).status, read(i).attempts) for i in dead] == [
        (OutboxStatus.DEAD, 1),
        (OutboxStatus.PENDING, 0),
        (OutboxStatus.DEAD, 1),
    ]
    assert deliver_requeued(worker, read, clock, [dead[1]]) == 1
    assert billing.balances == {"cus_fine": -50, "cus_2": -200}


def test_outbox_retry_all_requeues_every_dead_message(
    loyalty: Loyalty,
    dead: list[int],
    read: Read,
    worker: OutboxWorker,
    clock: FrozenClock,
    billing: InMemoryBillingGateway,
) -> None:
    result = loyalty("outbox", "retry", "--all")

    assert result.exit_code == 0, result.output
    assert "Requeued 3 dead message(s)." in result.stdout
    assert deliver_requeued(worker, read, clock, dead) == 3
    assert all(read(i).status == OutboxStatus.DELIVERED for i in dead)
    assert billing.balances == {"cus_fine": -50, "cus_1": -100, "cus_2": -200, "cus_3": -300}


def test_outbox_retry_leaves_messages_that_are_not_dead_alone(
    loyalty: Loyalty, enqueue: Enqueue, read: Read
) -> None:
    pending = enqueue("credit:waiting")

    result = loyalty("outbox", "retry", str(pending), "424242")

    assert result.exit_code == 0, result.output
    assert "Requeued 0 dead message(s)." in result.stdout
    assert read(pending).status == OutboxStatus.PENDING


def test_outbox_retry_needs_ids_or_all(loyalty: Loyalty, dead: list[int], read: Read) -> None:
    result = loyalty("outbox", "retry")

    assert result.exit_code == 2
    assert "--all" in result.stderr
    assert all(read(i).status == OutboxStatus.DEAD for i in dead)


def test_outbox_list_refuses_an_unknown_status(loyalty: Loyalty) -> None:
    result = loyalty("outbox", "list", "--status", "lost")
    assert result.exit_code == 2
    assert "lost" in result.output
