"""Scheduled outbox housekeeping."""

from __future__ import annotations

import logging
from datetime import timedelta

from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service
from loyalty_engine.runtime import current

log = logging.getLogger(__name__)


def purge_delivered() -> int:
    """Delete delivered messages older than the retention period (dead ones stay for people)."""
    runtime = current()
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.outbox_delivered_retention_days)
    with session_scope(runtime.engine, write=True) as session:
        purged = service.purge_delivered(session, before=cutoff)
    log.info("outbox: purged %d delivered messages older than %s", purged, cutoff.isoformat())
    return purged
