"""Billing fixtures: an app whose engine moves credits onto billing balances, and helpers to
grant, run the transfer pass and deliver the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from loyalty_engine.config import Settings
from loyalty_engine.customers.models import Customer
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.worker import OutboxWorker, WorkerReport
from loyalty_engine.runtime import Runtime
from rewards import service as ledger
from rewards.models import SourceKind
from rewards.transfer_jobs import run_transfers
from rewards.transfers import TransferReport
from tests.stripe_emulator.fixtures import stripe_client, stripe_emulator  # noqa: F401


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        outbox_backoff_base_seconds=1.0,
        outbox_max_attempts=3,
        billing_apply_credits=True,
    )


@pytest.fixture
def customer_id(runtime: Runtime, make_customer: Callable[..., dict[str, object]]) -> int:
    make_customer("acme", billing_customer_id="cus_acme", currency="USD")
    return internal_id(runtime, "acme")


def internal_id(runtime: Runtime, external_id: str) -> int:
    with session_scope(runtime.engine, write=False) as session:
        return int(
            session.execute(
                select(Customer.id).where(Customer.external_id == external_id)  # type: ignore[arg-type]
            ).scalar_one()
        )


Grant = Callable[..., None]


@pytest.fixture
def grant(runtime: Runtime, customer_id: int) -> Grant:
    def add(amount: int, ref: str = "invoice:in_1", unit: str = "usd", **kwargs: object) -> None:
        with session_scope(runtime.engine, write=True) as session:
            ledger.grant(
                session,
                customer_id=customer_id,
                unit=unit,
                amount=amount,
                reason="referral credit",
                source_kind=SourceKind.RULE,
                source_ref=ref,
                now=runtime.clock.now(),
                **kwargs,  # type: ignore[arg-type]
            )

    return add


@pytest.fixture
def transfer(runtime: Runtime) -> Callable[[], TransferReport]:
    return lambda: run_transfers(runtime)


@pytest.fixture
def deliver(runtime: Runtime) -> Callable[[], WorkerReport]:
    worker = OutboxWorker(runtime)
    return worker.run_once


@pytest.fixture
def balance(runtime: Runtime, customer_id: int) -> Callable[[str], ledger.Balance]:
    def read(unit: str = "usd") -> ledger.Balance:
        with session_scope(runtime.engine, write=False) as session:
            return ledger.balances(session, customer_id=customer_id)[unit]

    return read
