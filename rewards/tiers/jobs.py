"""Scheduled tier review: downgrades happen at the end of the qualification window plus grace,
whether or not the customer sends events."""

from __future__ import annotations

import logging

from sqlalchemy import select

from loyalty_engine.db import session_scope
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.runtime import current
from loyalty_engine.scheduler import JobSpec
from rewards.tiers.models import DowngradePolicy
from rewards.tiers.reactor import announcement
from rewards.tiers.service import CUSTOMERS, due_for_review, evaluate, get_program

log = logging.getLogger(__name__)


def review_tiers() -> int:
    """Job: re-measure the customers whose tier's qualification is over; the changes made."""
    runtime = current()
    changed = 0
    while True:
        with session_scope(runtime.engine, write=True) as session:
            program = get_program(session)
            if program is None or program.downgrade == DowngradePolicy.NEVER:
                break
            now = runtime.clock.now()
            due = due_for_review(session, program=program, now=now)
            if not due:
                break
            changes = evaluate(session, program=program, customer_ids=due, now=now)
            externals: dict[int, str] = dict(
                session.execute(
                    select(CUSTOMERS.c.id, CUSTOMERS.c.external_id).where(
                        CUSTOMERS.c.id.in_([c.customer_id for c in changes])
                    )
                ).all()
            )
            ingest_internal(
                session,
                events=[InternalEvent(*announcement(c, externals[c.customer_id])) for c in changes],
                source="tiers",
                reactors=runtime.reactors,
                now=now,
                depth=1,
            )
        changed += len(changes)
    log.info("tiers: %d customers moved at review", changed)
    return changed


TIER_JOBS: list[JobSpec] = [JobSpec("tiers.review", "rewards.tiers.jobs:review_tiers", 3600)]
