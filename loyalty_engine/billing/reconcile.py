"""Reconciliation: what we applied to billing balances against what the billing system recorded.

Each transfer we made is matched with the billing system's balance changes of that customer, by
the billing system's id (kept on the transfer) or by our transfer id (kept in the change's
metadata). Drift is anything that does not match:

- `missing_in_billing`: we recorded a transfer as applied; the billing system has no such change.
- `amount_mismatch`: both have it, with other amounts (signs included).
- `duplicate_in_billing`: the billing system has several changes for one transfer of ours.
- `applied_but_failed`: we count a transfer as failed or returned, yet it was applied (paid twice
  if returned to the ledger).
- `unknown_in_billing`: a change that names a transfer of ours we do not have.

A transfer still pending that the billing system already has is not drift (its outcome is
recorded by the next transfer pass) but is listed as `in_flight`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.billing.gateway import BillingGateway, RemoteBalanceChange
from loyalty_engine.billing.models import BillingTransfer, TransferDirection, TransferStatus

DRIFT_KINDS = (
    "missing_in_billing",
    "amount_mismatch",
    "duplicate_in_billing",
    "applied_but_failed",
    "unknown_in_billing",
)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    billing_customer_id: str
    transfer_id: int | None
    external_ids: tuple[str, ...]
    expected: int | None  # the balance change we expect, in Stripe's sign
    found: int | None  # what the billing system has
    message: str

    @property
    def is_drift(self) -> bool:
        return self.kind in DRIFT_KINDS


@dataclass
class ReconcileReport:
    gateway: str
    customers: int = 0
    transfers: int = 0
    matched: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def drift(self) -> list[Finding]:
        return [f for f in self.findings if f.is_drift]

    def as_dict(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "customers": self.customers,
            "transfers": self.transfers,
            "matched": self.matched,
            "drift": len(self.drift),
            "findings": [asdict(f) for f in self.findings],
        }


def expected_change(transfer: BillingTransfer) -> int:
    """The billing balance change a transfer makes, in Stripe's sign (negative credits)."""
    return -transfer.amount if transfer.direction == TransferDirection.CREDIT else transfer.amount


def reconcile(
    session: Session,
    gateway: BillingGateway,
    *,
    billing_customer_ids: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReconcileReport:
    """Compare every transfer (of the given billing customers, else all) with the billing
    system. Reads only; one listing per billing customer."""
    stmt = select(BillingTransfer).where(BillingTransfer.gateway == gateway.name)  # type: ignore[arg-type]
    if billing_customer_ids is not None:
        stmt = stmt.where(BillingTransfer.billing_customer_id.in_(billing_customer_ids))  # type: ignore[attr-defined]
    ours: dict[str, list[BillingTransfer]] = defaultdict(list)
    for transfer in session.execute(stmt.order_by(BillingTransfer.id)).scalars():  # type: ignore[arg-type]
        ours[transfer.billing_customer_id].append(transfer)
    report = ReconcileReport(gateway=gateway.name, customers=len(ours))
    known_ids = {t.id for transfers in ours.values() for t in transfers}
    for done, (customer, transfers) in enumerate(sorted(ours.items()), start=1):
        report.transfers += len(transfers)
        remote = gateway.balance_changes(customer)
        _compare(report, customer, transfers, remote, known_ids)
        if progress is not None:
            progress(done, len(ours))
    return report


def _compare(
    report: ReconcileReport,
    customer: str,
    transfers: list[BillingTransfer],
    remote: list[RemoteBalanceChange],
    known_ids: set[int | None],
) -> None:
    by_transfer: dict[int, list[RemoteBalanceChange]] = defaultdict(list)
    by_external = {change.external_id: change for change in remote}
    for change in remote:
        if change.transfer_id is not None:
            by_transfer[change.transfer_id].append(change)
    for transfer in transfers:
        assert transfer.id is not None
        found = list(by_transfer.get(transfer.id, []))
        if transfer.external_id and transfer.external_id in by_external:
            named = by_external[transfer.external_id]
            if named not in found:
                found.append(named)
        found_ = _check(customer, transfer, found)
        if found_ is None:
            report.matched += 1
        else:
            report.findings.append(found_)
    for transfer_id, changes in by_transfer.items():
        if transfer_id not in known_ids:
            report.findings.append(
                Finding(
                    "unknown_in_billing",
                    customer,
                    transfer_id,
                    tuple(c.external_id for c in changes),
                    None,
                    sum(c.amount for c in changes),
                    f"the billing system has changes for transfer {transfer_id}, unknown here",
                )
            )


def _check(
    customer: str, transfer: BillingTransfer, found: list[RemoteBalanceChange]
) -> Finding | None:
    """What is wrong with one transfer, given the billing system's changes for it; None: fine."""
    expected = expected_change(transfer)
    ids = tuple(change.external_id for change in found)
    total = sum(change.amount for change in found) if found else None

    def finding(kind: str, message: str) -> Finding:
        return Finding(kind, customer, transfer.id, ids, expected, total, message)

    status = transfer.status
    if status == TransferStatus.APPLIED:
        if not found:
            return finding(
                "missing_in_billing",
                f"transfer {transfer.id} is applied here as {transfer.external_id}, "
                "which the billing system does not have",
            )
        if len(found) > 1:
            return finding("duplicate_in_billing", f"transfer {transfer.id} was applied twice")
        if found[0].amount != expected:
            return finding(
                "amount_mismatch",
                f"transfer {transfer.id}: expected {expected}, billing has "
                f"{found[0].amount} {found[0].currency}",
            )
        return None
    if not found:
        return None  # pending, failed or returned, and nothing in billing: as it should be
    if status == TransferStatus.PENDING:
        return finding("in_flight", f"transfer {transfer.id} applied; outcome not yet recorded")
    return finding(
        "applied_but_failed",
        f"transfer {transfer.id} is {status} here but the billing system applied it",
    )
