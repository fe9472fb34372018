"""Reconciliation finds planted drift between our transfers and the billing system's record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.billing.reconcile import ReconcileReport, reconcile
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.worker import WorkerReport
from loyalty_engine.runtime import Runtime
from rewards.transfers import TransferReport
from tests.billing.conftest import Grant


def check(runtime: Runtime, billing: InMemoryBillingGateway) -> ReconcileReport:
    with session_scope(runtime.engine, write=False) as session:
        return reconcile(session, billing)


def two_applied(
    grant: Grant, transfer: Callable[[], TransferReport], deliver: Callable[[], WorkerReport]
) -> None:
    grant(500, ref="a")
    transfer()
    deliver()
    grant(200, ref="b")
    transfer()
    deliver()
    transfer()  # records both outcomes


def test_a_clean_history_reconciles(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Callable[[], TransferReport],
    deliver: Callable[[], WorkerReport],
) -> None:
    two_applied(grant, transfer, deliver)
    report = check(runtime, billing)
    assert (report.customers, report.transfers, report.matched) == (1, 2, 2)
    assert report.findings == []
    assert report.as_dict()["drift"] == 0


def test_planted_drift_is_found_and_named(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Callable[[], TransferReport],
    deliver: Callable[[], WorkerReport],
) -> None:
    two_applied(grant, transfer, deliver)
    changes = billing.changes["cus_acme"]
    first, second = changes
    # Someone edits the first credit in Stripe, and the second one vanishes; a stray change
    # claims a transfer we never made.
    billing.changes["cus_acme"] = [
        replace(first, amount=-450),
        replace(second, external_id="cbtxn_stray", transfer_id=9_999, amount=-100),
    ]
    report = check(runtime, billing)
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["amount_mismatch", "missing_in_billing", "unknown_in_billing"]
    mismatch = next(f for f in report.findings if f.kind == "amount_mismatch")
    assert (mismatch.expected, mismatch.found) == (-500, -450)
    unknown = next(f for f in report.findings if f.kind == "unknown_in_billing")
    assert unknown.transfer_id == 9_999
    assert unknown.external_ids == ("cbtxn_stray",)
    assert len(report.drift) == 3


def test_a_duplicate_in_billing_is_drift(
    runtime: Runtime,
    billing: InMemoryBillingGateway,
    grant: Grant,
    transfer: Callable[[], TransferReport],
    deliver: Callable[[], WorkerReport],
) -> None:
    two_applied(grant, transfer, deliver)
    first = billing.changes["cus_acme"][0]
    billing.changes["cus_acme"].append(replace(first, external_id="cbtxn_again"))
    [finding] = check(runtime, billing).findings
    assert finding.kind == "duplicate_in_billing"
    assert finding.found == -1_000
