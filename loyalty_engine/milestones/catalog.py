"""This process's compiled milestones, reloaded only when the "milestones" generation moves (each
change to a definition bumps it), as the rule catalog does for rules."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.milestones.definitions import CompiledMilestone, compile_milestone
from loyalty_engine.milestones.models import Milestone
from loyalty_engine.rules.engine import generation_of

MILESTONES_GENERATION = "milestones"


@dataclass(frozen=True)
class MilestoneBook:
    """The active milestones that events can achieve (manual ones are left out)."""

    generation: int
    milestones: tuple[CompiledMilestone, ...]

    @property
    def step_ids(self) -> tuple[int, ...]:
        return tuple(m.id for m in self.milestones if m.steps)

    @property
    def needs_facts(self) -> bool:
        """Whether any condition (a milestone's or a step's) reads facts."""
        return any(
            m.check is not None or any(s.check is not None for s in m.steps)
            for m in self.milestones
        )


def load_book(session: Session, generation: int) -> MilestoneBook:
    stmt = (
        select(Milestone).where(col(Milestone.archived_at).is_(None)).order_by(col(Milestone.key))
    )
    compiled = [
        compile_milestone(
            m.id or 0,
            m.key,
            m.steps,
            required_steps=m.required_steps,
            required_bps=m.required_bps,
            condition=m.condition,
        )
        for m in session.execute(stmt).scalars()
    ]
    return MilestoneBook(generation, tuple(m for m in compiled if not m.manual))


@dataclass
class MilestoneCatalog:
    _book: MilestoneBook | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, session: Session) -> MilestoneBook:
        generation = generation_of(session, MILESTONES_GENERATION)
        current = self._book
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            book = load_book(session, generation)
            self._book = book
            return book
