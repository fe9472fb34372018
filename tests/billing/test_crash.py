"""A worker killed between Stripe's success and our commit: the next worker retries with the same
idempotency key, Stripe replays its answer, and the credit exists once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import stripe
from sqlalchemy import select

from loyalty_engine.billing.models import TransferStatus
from loyalty_engine.billing.stripe_gateway import StripeGateway
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.runtime import Runtime
from rewards.transfers import TransferReport
from tests.billing.conftest import Grant
from tests.billing.test_transfers import transfers
from tests.stripe_emulator.emulator import StripeEmulator

pytestmark = pytest.mark.slow


@pytest.fixture
def billing(stripe_client: stripe.StripeClient) -> StripeGateway:
    return StripeGateway(stripe_client)


@contextmanager
def worker(db_url: str, emulator: StripeEmulator) -> Iterator[subprocess.Popen[bytes]]:
    """`loyalty worker` in its own process, pointed at the emulator."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LOYALTY_STRIPE_API_KEY": emulator.api_key,
        "LOYALTY_STRIPE_API_BASE": emulator.url,
        "LOYALTY_STRIPE_TIMEOUT_SECONDS": "60",
        "LOYALTY_OUTBOX_LEASE_SECONDS": "2",
        "LOYALTY_OUTBOX_POLL_SECONDS": "0.1",
        "LOYALTY_BILLING_APPLY_CREDITS": "true",
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from loyalty_engine.cli import app; app()", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        except AssertionError:
            log.seek(0)
            raise AssertionError(log.read().decode(errors="replace")[-4_000:]) from None
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def message_status(runtime: Runtime) -> OutboxStatus:
    with session_scope(runtime.engine, write=False) as session:
        return session.execute(select(OutboxMessage.status)).scalar_one()  # type: ignore[call-overload, no-any-return]


def test_a_worker_killed_after_stripe_succeeded_leaves_one_credit(
    db_url: str,
    settings: Settings,
    runtime: Runtime,
    make_customer: Callable[..., dict[str, object]],
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    grant: Grant,
    transfer: Callable[[], TransferReport],
) -> None:
    customer = stripe_client.v1.customers.create(params={}).id
    make_customer("acme", billing_customer_id=customer)
    grant(1_234)
    assert transfer().credited == 1
    path = f"/v1/customers/{customer}/balance_transactions"
    # Stripe applies the credit at once but answers late: we kill the worker in between.
    stripe_emulator.faults.inject("timeout", path_prefix=path, delay=8)

    with worker(db_url, stripe_emulator) as first:
        wait_for(lambda: len(stripe_emulator.balance_transactions(customer)) == 1, 30, "the credit")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert message_status(runtime) == OutboxStatus.PENDING  # we never recorded the success

    with worker(db_url, stripe_emulator):
        wait_for(lambda: message_status(runtime) == OutboxStatus.DELIVERED, 30, "delivery")

    txns = stripe_emulator.balance_transactions(customer)
    assert [t["amount"] for t in txns] == [-1_234]
    posts = [r for r in stripe_emulator.requests if r.method == "POST" and r.path == path]
    assert [r.replayed for r in posts] == [False, True]  # the retry got Stripe's first answer
    assert len({r.idempotency_key for r in posts}) == 1
    transfer()
    [row] = transfers(runtime)
    assert row.status == TransferStatus.APPLIED
    assert row.external_id == txns[0]["id"]
