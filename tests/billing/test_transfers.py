"""Credits move from the ledger onto the billing customer's balance exactly once, owed credit is
taken back, and a refused transfer loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from loyalty_engine.billing.factory import applies_credits
from loyalty_engine.billing.gateway import BillingError
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.billing.models import BillingTransfer, TransferStatus
from loyalty_engine.clock import FrozenClock
from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service as outbox
from loyalty_engine.outbox.models import OutboxMessage, OutboxStatus
from loyalty_engine.outbox.worker import WorkerReport
from loyalty_engine.runtime import Runtime, install
from rewards import service as ledger
from rewards.jobs import mature_and_expire
from rewards.ledger import ReversalPolicy
from rewards.models import LedgerAccount, SourceKind
from rewards.transfers import TransferReport
from tests.billing.conftest import Grant, internal_id

Transfer = Callable[[], TransferReport]
Deliver = Callable[[], WorkerReport]
Balance = Callable[..., ledger.Balance]


def transfers(runtime: Runtime) -> list[BillingTransfer]:
    with session_scope(runtime.engine, write=False) as session:
        return list(session.execute(select(BillingTransfer).order_by(BillingTransfer.id)).scalars())  # type: ignore[arg-type]


def ledger_consistent(runtime: Runtime) -> bool:
    with session_scope(runtime.engine, write=False) as session:
        ids = session.execute(select(LedgerAccount.id)).scalars().all()  # type: ignore[call-overload]
        return all(ledger.check_account(session, account_id) for account_id in ids)


def test_available_credit_moves_to_the_billing_balance_once(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
    balance: Balance,
) -> None:
    grant(500)
    first = transfer()
    assert (first.credited, first.reversed) == (1, 0)
    assert balance().available == 0  # spent from the ledger in the same transaction
    assert transfer().queued == 0  # nothing left to move; the queued one is not queued again

    assert deliver().delivered == 1
    assert billing.balances == {"cus_acme": -500}  # a credit: negative, as Stripe's sign
    assert transfer().applied == 1
    [row] = transfers(runtime)
    assert row.status == TransferStatus.APPLIED
    assert row.amount == 500
    assert row.currency == "usd"
    assert row.direction == "credit"
    # The billing system's id is kept beside our ledger entry.
    assert row.external_id == billing.balance_changes("cus_acme")[0].external_id
    assert billing.balance_changes("cus_acme")[0].transfer_id == row.id
    assert billing.effects == 1
    assert ledger_consistent(runtime)


def test_a_held_credit_moves_only_once_it_matures(
    runtime: Runtime,
    clock: FrozenClock,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
    balance: Balance,
) -> None:
    grant(300, matures_at=clock.now() + timedelta(days=30))
    assert transfer().queued == 0
    assert balance().pending == 300
    clock.advance(timedelta(days=30, seconds=1))
    install(runtime)
    mature_and_expire()
    assert transfer().credited == 1
    deliver()
    assert billing.balances == {"cus_acme": -300}


def test_points_and_customers_without_a_billing_id_stay_in_the_ledger(
    runtime: Runtime,
    make_customer: Callable[..., dict[str, object]],
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    balance: Balance,
) -> None:
    grant(1_000, unit="points")
    make_customer("globex")
    other = internal_id(runtime, "globex")
    with session_scope(runtime.engine, write=True) as session:
        ledger.grant(
            session,
            customer_id=other,
            unit="usd",
            amount=700,
            reason="credit",
            source_kind=SourceKind.RULE,
            source_ref="x",
            now=runtime.clock.now(),
        )
    assert transfer().queued == 0
    assert balance("points").available == 1_000
    assert billing.calls == []


def test_a_refund_after_the_transfer_takes_the_credit_back_from_the_billing_balance(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
    balance: Balance,
) -> None:
    grant(500, ref="invoice:in_9")
    transfer()
    deliver()
    with session_scope(runtime.engine, write=True) as session:
        ledger.reverse_source(
            session,
            source_kind=SourceKind.RULE,
            source_ref="invoice:in_9",
            reason="refunded",
            now=runtime.clock.now(),
            policy=ReversalPolicy.ALLOW_NEGATIVE,
        )
    assert balance().available == -500
    assert balance().debt == 500
    report = transfer()
    assert (report.credited, report.reversed) == (0, 1)
    assert balance().available == 0
    assert balance().debt == 0
    deliver()
    assert billing.balances == {"cus_acme": 0}  # -500 then +500
    transfer()
    assert [(t.direction, t.amount, t.status) for t in transfers(runtime)] == [
        ("credit", 500, TransferStatus.APPLIED),
        ("reversal", 500, TransferStatus.APPLIED),
    ]
    assert transfer().queued == 0
    assert ledger_consistent(runtime)


def test_only_what_was_transferred_is_taken_back(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
    balance: Balance,
    customer_id: int,
) -> None:
    grant(200, ref="a")
    transfer()
    deliver()
    # A debt bigger than the transferred credit: a spend the ledger allowed, then a reversal.
    grant(300, ref="b")
    with session_scope(runtime.engine, write=True) as session:
        ledger.spend(
            session,
            customer_id=customer_id,
            unit="usd",
            amount=300,
            reason="renewal",
            now=runtime.clock.now(),
            idempotency_key="r1",
        )
        ledger.reverse_source(
            session,
            source_kind=SourceKind.RULE,
            source_ref="b",
            reason="refunded",
            now=runtime.clock.now(),
            policy=ReversalPolicy.ALLOW_NEGATIVE,
        )
        ledger.reverse_source(
            session,
            source_kind=SourceKind.RULE,
            source_ref="a",
            reason="refunded",
            now=runtime.clock.now(),
            policy=ReversalPolicy.ALLOW_NEGATIVE,
        )
    assert balance().debt == 500
    assert transfer().reversed == 1
    assert balance().debt == 300  # 200 recovered through billing; the rest is still owed
    deliver()
    assert billing.balances == {"cus_acme": 0}
    assert transfer().queued == 0


def test_a_refused_transfer_blocks_the_account_until_returned_and_never_pays_twice(
    runtime: Runtime,
    client: TestClient,
    admin: dict[str, str],
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
    balance: Balance,
) -> None:
    billing.fail_next(1, BillingError("No such customer: 'cus_acme'", retryable=False))
    grant(500)
    transfer()
    assert deliver().dead == 1
    assert transfer().failed == 1
    grant(100, ref="later")
    assert transfer().queued == 0  # blocked while a transfer is failed
    failed = client.get("/v1/billing/transfers?status=failed", headers=admin).json()
    assert len(failed) == 1
    assert "No such customer" in failed[0]["last_error"]
    status = client.get("/v1/billing/status", headers=admin).json()
    assert status["transfers"]["failed"] == 1
    assert status["applies_credits"] is True

    returned = client.post(f"/v1/billing/transfers/{failed[0]['id']}/return", headers=admin)
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned"
    assert balance().available == 600
    again = client.post(f"/v1/billing/transfers/{failed[0]['id']}/return", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "billing_transfer_not_failed"

    # Someone requeues the dead message by hand: the handler refuses to send a returned transfer.
    with session_scope(runtime.engine, write=True) as session:
        outbox.retry_dead(session, message_ids=None, now=runtime.clock.now())
    deliver()
    assert billing.effects == 0
    with session_scope(runtime.engine, write=False) as session:
        message = session.get(OutboxMessage, failed[0]["outbox_message_id"])
        assert message is not None
        assert message.status == OutboxStatus.DEAD
        assert "returned to the ledger" in (message.last_error or "")

    assert transfer().credited == 1  # unblocked: the whole 600 moves now
    deliver()
    assert billing.balances == {"cus_acme": -600}
    assert ledger_consistent(runtime)


def test_a_refused_transfer_can_be_retried_after_the_cause_is_fixed(
    runtime: Runtime,
    client: TestClient,
    admin: dict[str, str],
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Transfer,
    deliver: Deliver,
) -> None:
    billing.fail_next(1, BillingError("customer deleted", retryable=False))
    grant(500)
    transfer()
    deliver()
    [row] = client.get("/v1/billing/transfers", headers=admin).json()
    assert row["status"] == "pending"  # the outcome is recorded by the next pass
    transfer()
    retried = client.post(f"/v1/billing/transfers/{row['id']}/retry", headers=admin)
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    deliver()
    transfer()
    [row] = client.get("/v1/billing/transfers", headers=admin).json()
    assert row["status"] == "applied"
    assert row["external_id"]
    assert billing.balances == {"cus_acme": -500}
    missing = client.post("/v1/billing/transfers/999/retry", headers=admin)
    assert missing.status_code == 404


def test_by_default_only_stripe_applies_credits(
    runtime: Runtime, billing: InMemoryBillingGateway, grant: Grant, transfer: Transfer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"billing_apply_credits": None})
    assert applies_credits(runtime.settings, billing) is False
    grant(500)
    assert transfer().queued == 0
    assert billing.calls == []
    stripe_like = InMemoryBillingGateway(name="stripe")
    assert applies_credits(runtime.settings, stripe_like) is True
    off = runtime.settings.model_copy(update={"billing_apply_credits": False})
    assert applies_credits(off, stripe_like) is False


def test_a_catalog_credit_goes_to_the_billing_balance_in_the_redemption(
    runtime: Runtime,
    client: TestClient,
    admin: dict[str, str],
    customer_id: int,
    billing: InMemoryBillingGateway,
    deliver: Deliver,
) -> None:
    item = {
        "key": "credit-50",
        "name": "$50 account credit",
        "kind": "account_credit",
        "cost_points": 500,
        "fulfilment": {"amount_minor": 5_000, "currency": "usd"},
    }
    assert client.post("/v1/rewards", json=item, headers=admin).status_code == 201
    funded = client.post(
        "/v1/customers/acme/adjustments",
        json={"unit": "points", "amount": 500, "reason": "funds"},
        headers={**admin, "Idempotency-Key": "f1"},
    )
    assert funded.status_code == 201
    redeemed = client.post(
        "/v1/customers/acme/rewards/credit-50/redemptions",
        headers={**admin, "Idempotency-Key": "r1"},
    )
    assert redeemed.status_code == 201, redeemed.text
    [row] = transfers(runtime)
    assert (row.amount, row.status) == (5_000, TransferStatus.PENDING)
    deliver()
    assert billing.balances == {"cus_acme": -5_000}
    # On the billing balance it is used: the redemption can no longer be cancelled.
    cancel = client.post(f"/v1/reward-redemptions/{redeemed.json()['id']}/cancel", headers=admin)
    assert cancel.status_code == 409
    assert cancel.json()["error"]["code"] == "credit_already_used"
