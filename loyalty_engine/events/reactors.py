"""The reactor seam: what runs, in the ingest transaction, for each stored event type.

Domains (and later the rules engine) register reactors at start-up; ingest never imports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    customer_id: int
    customer_external_id: str
    type: str
    source: str
    occurred_at: datetime
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReactContext:
    now: datetime
    depth: int = 0  # 0 for events from outside; n for events emitted by reactors n deep


@dataclass(frozen=True, slots=True)
class PropertyProblem:
    """A problem in an event's properties, at a path relative to the event (`properties.plan`)."""

    path: str
    message: str


class Reactor(Protocol):
    name: str

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        """Problems that make the event unacceptable (it is rejected before anything is written)."""
        ...

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        """Apply the events' consequences in the ingest transaction (flush, never commit)."""
        ...


@dataclass
class ReactorRegistry:
    _by_type: dict[str, list[Reactor]] = field(default_factory=dict)
    _for_all: list[Reactor] = field(default_factory=list)

    def register(self, reactor: Reactor, event_types: Iterable[str] | None = None) -> None:
        """Run `reactor` for the given event types, or for every event when none are given."""
        if event_types is None:
            self._for_all.append(reactor)
            return
        for event_type in event_types:
            self._by_type.setdefault(event_type, []).append(reactor)

    def for_type(self, event_type: str) -> list[Reactor]:
        return self._by_type.get(event_type, []) + self._for_all

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        problems: list[PropertyProblem] = []
        for reactor in self.for_type(event_type):
            problems.extend(reactor.validate(event_type, properties))
        return problems

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        """Hand each reactor its events in one call, in (occurred_at, id) order."""
        batches: dict[int, tuple[Reactor, list[StoredEvent]]] = {}
        for stored in sorted(events, key=lambda e: (e.occurred_at, e.id)):
            for reactor in self.for_type(stored.type):
                batches.setdefault(id(reactor), (reactor, []))[1].append(stored)
        for reactor, batch in batches.values():
            reactor.react(session, batch, ctx)
