"""Announcing achievements: a `milestone_achieved` event through ingest (the one door), once per
customer and milestone (its idempotency key says which), after the achieving event's own rules."""

# Achievements recorded while an event is handled (by the milestone reactor, or by a rule's
# grant_milestone action) wait in the session, under that event's id. The announcer, registered
# after the rules engine, ingests them one level deeper once the event's rules have decided, so a
# stage rule on `milestone_achieved` never runs before the rules of the event that achieved it.

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.milestones.models import AchievedBy
from loyalty_engine.rules.engine import MAX_EMIT_DEPTH
from loyalty_engine.runtime import Runtime

log = logging.getLogger(__name__)
MILESTONE_ACHIEVED = "milestone_achieved"
SOURCE = "milestones"
_PENDING = "milestones.pending"  # session.info: event id -> achievements to announce after it


@dataclass(frozen=True, slots=True)
class Achieved:
    customer_id: int
    customer_external_id: str
    milestone: str
    achieved_at: datetime
    achieved_by: AchievedBy

    @property
    def idempotency_key(self) -> str:
        return f"{MILESTONE_ACHIEVED}:{self.customer_id}:{self.milestone}"


# Ingests `milestone_achieved` events for these achievements at this depth.
Publish = Callable[[Session, Sequence[Achieved], int], None]


def announce_after(session: Session, event_id: int, achieved: Achieved) -> None:
    """Announce `achieved` once the rules have decided event `event_id`."""
    session.info.setdefault(_PENDING, {}).setdefault(event_id, []).append(achieved)


def publisher(runtime: Runtime) -> Publish:
    def publish(session: Session, achieved: Sequence[Achieved], depth: int) -> None:
        now = runtime.clock.now()
        events = [
            InternalEvent(
                MILESTONE_ACHIEVED,
                a.customer_external_id,
                {"milestone": a.milestone, "achieved_by": a.achieved_by.value},
                a.idempotency_key,
                occurred_at=min(a.achieved_at, now),
            )
            for a in achieved
        ]
        ingest_internal(
            session,
            events=events,
            source=SOURCE,
            reactors=runtime.reactors,
            now=now,
            depth=depth,
        )

    return publish


@dataclass
class MilestoneAnnouncer:
    """The reactor that publishes what waits for the events it is handed: register it for every
    event type, after the rules engine."""

    publish: Publish
    name: str = "milestones.announce"

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        pending: dict[int, list[Achieved]] = session.info.get(_PENDING) or {}
        due = [a for event in events for a in pending.pop(event.id, [])]
        if not due:
            return
        if ctx.depth >= MAX_EMIT_DEPTH:
            log.warning(
                "milestone_achieved not emitted for %d achievements: follow-up events stop %d "
                "levels deep (the achievements are recorded)",
                len(due),
                MAX_EMIT_DEPTH,
            )
            return
        self.publish(session, due, ctx.depth + 1)
