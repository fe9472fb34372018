"""The milestone reactor, registered for every event type before the rules engine: it counts the
renewals and each step's matching events, and records achievements once, so that the rules of the
same event already read `customer.renewals` and `customer.milestones` as they now are."""

# Ingest hands an event to reactors once, when it is first stored, so counting here is idempotent.

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from loyalty_engine.customers.actions import RENEWED_EVENT
from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from loyalty_engine.milestones.announce import Achieved, announce_after
from loyalty_engine.milestones.catalog import MilestoneBook, MilestoneCatalog
from loyalty_engine.milestones.definitions import CompiledMilestone
from loyalty_engine.milestones.models import AchievedBy, CustomerRenewals
from loyalty_engine.milestones.progress import steps_complete
from loyalty_engine.milestones.service import (
    ACHIEVEMENTS,
    COUNTS,
    lock_customers,
    record_achievement,
)
from loyalty_engine.rules.engine import event_facts

RENEWALS = CustomerRenewals.__table__  # type: ignore[attr-defined]
# The customers' fact objects as rules see them (the rules engine's `customer_facts`).
CustomerFacts = Callable[[Session, list[int], datetime], dict[int, dict[str, Any]]]
Pair = tuple[int, int]  # (customer id, milestone id)


@dataclass
class _Batch:
    """What one call works on: who achieved what, and each open milestone's step counts."""

    achieved: set[Pair]
    counts: dict[Pair, dict[str, int]]
    added: dict[tuple[int, int, str], int]
    facts: dict[int, dict[str, Any]]


@dataclass
class MilestoneReactor:
    catalog: MilestoneCatalog
    facts: CustomerFacts
    name: str = "milestones"

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        book = self.catalog.book(session)
        renewed = [e for e in events if e.type == RENEWED_EVENT]
        concerned = events if book.milestones else renewed
        if not concerned:
            return
        lock_customers(session, sorted({e.customer_id for e in concerned}))
        count_renewals(session, renewed, ctx.now)
        if book.milestones:
            self.progress(session, book, events, ctx.now)

    def progress(
        self, session: Session, book: MilestoneBook, events: Sequence[StoredEvent], now: datetime
    ) -> None:
        ids = sorted({e.customer_id for e in events})
        batch = _Batch(_achieved(session, ids), _counts(session, ids, book), {}, {})
        if book.needs_facts:
            batch.facts = self.facts(session, ids, now)
        for event in events:
            customer = batch.facts.setdefault(event.customer_id, {"milestones": []})
            facts = event_facts(event, customer, now)
            for milestone in book.milestones:
                if (event.customer_id, milestone.id) not in batch.achieved:
                    self.advance(session, milestone, event, facts, batch, now)
        add_counts(session, batch.added, now)

    def advance(
        self,
        session: Session,
        milestone: CompiledMilestone,
        event: StoredEvent,
        facts: dict[str, Any],
        batch: _Batch,
        now: datetime,
    ) -> None:
        """Count the event for the milestone's steps it matches; record the achievement when the
        steps are complete and the condition holds for this event."""
        pair = (event.customer_id, milestone.id)
        counts = batch.counts.setdefault(pair, {})
        for step in milestone.steps:
            if step.event == event.type and step.counts(facts):
                counts[step.key] = counts.get(step.key, 0) + 1
                added = (*pair, step.key)
                batch.added[added] = batch.added.get(added, 0) + 1
        if not steps_complete(milestone.goals, milestone.required, counts):
            return
        if not milestone.holds(facts):
            return
        at = min(event.occurred_at, now)
        made = record_achievement(
            session,
            customer_id=event.customer_id,
            milestone_id=milestone.id,
            achieved_at=at,
            achieved_by=AchievedBy.PROGRESS,
            event_id=event.id,
            actor="",
            now=now,
        )
        batch.achieved.add(pair)
        if made:
            facts["customer"].setdefault("milestones", []).append(milestone.key)
            achieved = Achieved(
                event.customer_id,
                event.customer_external_id,
                milestone.key,
                at,
                AchievedBy.PROGRESS,
            )
            announce_after(session, event.id, achieved)


def _achieved(session: Session, ids: list[int]) -> set[Pair]:
    stmt = select(ACHIEVEMENTS.c.customer_id, ACHIEVEMENTS.c.milestone_id).where(
        ACHIEVEMENTS.c.customer_id.in_(ids)
    )
    return {(c, m) for c, m in session.execute(stmt)}


def _counts(session: Session, ids: list[int], book: MilestoneBook) -> dict[Pair, dict[str, int]]:
    found: dict[Pair, dict[str, int]] = {}
    if not book.step_ids:
        return found
    stmt = select(COUNTS.c.customer_id, COUNTS.c.milestone_id, COUNTS.c.step_key, COUNTS.c.count)
    stmt = stmt.where(COUNTS.c.customer_id.in_(ids), COUNTS.c.milestone_id.in_(book.step_ids))
    for customer_id, milestone_id, step_key, count in session.execute(stmt):
        found.setdefault((customer_id, milestone_id), {})[step_key] = int(count)
    return found


def _upsert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def add_counts(session: Session, added: dict[tuple[int, int, str], int], now: datetime) -> None:
    """Add to the stored step counts (one statement; each row an atomic increment)."""
    if not added:
        return
    insert = _upsert(session, COUNTS)
    stmt = insert.on_conflict_do_update(
        index_elements=[COUNTS.c.customer_id, COUNTS.c.milestone_id, COUNTS.c.step_key],
        set_={"count": COUNTS.c.count + insert.excluded.count, "updated_at": now},
    )
    rows = [
        {"customer_id": c, "milestone_id": m, "step_key": k, "count": n, "updated_at": now}
        for (c, m, k), n in sorted(added.items())
    ]
    session.execute(stmt, rows)


def count_renewals(session: Session, renewed: Sequence[StoredEvent], now: datetime) -> None:
    """One more renewal per `renewed` event (the `customer.renewals` fact)."""
    if not renewed:
        return
    per_customer: dict[int, int] = {}
    for event in renewed:
        per_customer[event.customer_id] = per_customer.get(event.customer_id, 0) + 1
    insert = _upsert(session, RENEWALS)
    stmt = insert.on_conflict_do_update(
        index_elements=[RENEWALS.c.customer_id],
        set_={"renewals": RENEWALS.c.renewals + insert.excluded.renewals, "updated_at": now},
    )
    rows = [
        {"customer_id": c, "renewals": n, "updated_at": now}
        for c, n in sorted(per_customer.items())
    ]
    session.execute(stmt, rows)
