"""Scheduled: process the stored Stripe events (every few seconds)."""

from __future__ import annotations

import logging

from loyalty_engine.billing.inbox.service import process_pending
from loyalty_engine.runtime import current
from loyalty_engine.scheduler import JobSpec

log = logging.getLogger(__name__)


def process_webhooks() -> int:
    report = process_pending(current())
    if report.claimed:
        log.info(
            "stripe webhooks: %d processed, %d ignored, %d unlinked, %d failed",
            report.processed,
            report.ignored,
            report.unlinked,
            report.failed,
        )
    return report.claimed


INBOX_JOBS: list[JobSpec] = [
    JobSpec("billing.process_webhooks", "loyalty_engine.billing.inbox.jobs:process_webhooks", 5)
]
