"""Scheduled tier review: downgrades happen at the end of the qualification window plus grace,
whether or not the customer sends events."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from loyalty_engine.db import session_scope
from loyalty_engine.events.schemas import EventIn
from loyalty_engine.events.service import IngestLimits, ingest
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
            events = []
            for i, change in enumerate(changes):
                kind, customer, properties, key = announcement(
                    change, externals[change.customer_id]
                )
                events.append(
                    (
                        i,
                        EventIn(
                            type=kind,
                            customer_id=customer,
                            occurred_at=now,
                            properties=properties,
                            idempotency_key=key,
                            source="tiers",
                        ),
                    )
                )
            limits = IngestLimits(future_tolerance=timedelta(0), max_properties_bytes=1 << 20)
            ingest(
                session, events=events, reactors=runtime.reactors, limits=limits, now=now, depth=1
            )
        changed += len(changes)
    log.info("tiers: %d customers moved at review", changed)
    return changed


TIER_JOBS: list[JobSpec] = [JobSpec("tiers.review", "rewards.tiers.jobs:review_tiers", 3600)]
