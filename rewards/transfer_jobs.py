"""Scheduled: move available currency credit onto billing balances, and record outcomes."""

from __future__ import annotations

import logging

from loyalty_engine.billing.factory import applies_credits
from loyalty_engine.db import session_scope
from loyalty_engine.runtime import Runtime, current
from loyalty_engine.scheduler import JobSpec
from rewards.transfers import BATCH, TransferReport, record_outcomes, transfer_credits

log = logging.getLogger(__name__)
MAX_PASSES = 1_000  # 200,000 accounts a run; the next run goes on


def run_transfers(runtime: Runtime) -> TransferReport:
    """One pass over every account with work (batch after batch); outcomes only when the
    engine does not apply credits itself."""
    total = TransferReport()
    assert runtime.billing is not None
    if not applies_credits(runtime.settings, runtime.billing):
        with session_scope(runtime.engine, write=True) as session:
            total.applied, total.failed = record_outcomes(session, now=runtime.clock.now())
        return total
    for _ in range(MAX_PASSES):
        with session_scope(runtime.engine, write=True) as session:
            report = transfer_credits(
                session, gateway=runtime.billing.name, now=runtime.clock.now()
            )
        total.applied += report.applied
        total.failed += report.failed
        total.credited += report.credited
        total.reversed += report.reversed
        total.skipped += report.skipped
        if report.queued + len(report.skipped) < BATCH:
            break
    return total


def transfer_job() -> int:
    report = run_transfers(current())
    log.info(
        "billing transfers: %d credits and %d reversals queued, %d applied, %d failed",
        report.credited,
        report.reversed,
        report.applied,
        report.failed,
    )
    return report.queued


TRANSFER_JOBS: list[JobSpec] = [
    JobSpec("billing.transfer_credits", "rewards.transfer_jobs:transfer_job", 60)
]
