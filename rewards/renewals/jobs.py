"""Scheduled: announce renewals coming up, for reminder emails and discount rules."""

from __future__ import annotations

import logging

from loyalty_engine.db import session_scope
from loyalty_engine.runtime import current
from loyalty_engine.scheduler import JobSpec
from rewards.renewals.service import announce_upcoming

log = logging.getLogger(__name__)


def announce_renewals() -> int:
    runtime = current()
    with session_scope(runtime.engine, write=True) as session:
        announced = announce_upcoming(
            session,
            reactors=runtime.reactors,
            now=runtime.clock.now(),
            notice_days=runtime.settings.renewal_notice_days,
        )
    log.info("renewals: %d upcoming renewals announced", announced)
    return announced


RENEWAL_JOBS: list[JobSpec] = [
    JobSpec("renewals.announce_upcoming", "rewards.renewals.jobs:announce_renewals", 3600)
]
