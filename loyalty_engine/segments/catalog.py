"""Segment membership at event time: the live segments compiled to Python once per segments
generation, and the fact provider that puts `customer.segments` into each customer's facts.

The conditions are the ones SQL counts; the customer facts are built with the same declared
custom traits as the SQL resolver reads, so a customer is a member here exactly when the SQL
count includes them at the same `now`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.customer_facts import epoch_seconds
from loyalty_engine.rules.engine import generation_of
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python
from loyalty_engine.segments.queries import live_segments
from loyalty_engine.segments.service import SEGMENTS_GENERATION

Predicate = Callable[[Any], Any]


@dataclass(frozen=True)
class SegmentBook:
    generation: int
    predicates: tuple[tuple[str, Predicate], ...]  # by key

    def member_of(self, customer: dict[str, Any], now_seconds: int) -> list[str]:
        """Keys of the segments the customer facts satisfy, sorted."""
        data = {"customer": customer, "now": now_seconds}
        return [key for key, holds in self.predicates if truthy(holds(data))]


@dataclass
class SegmentCatalog:
    """This process's compiled live segments. One per runtime (a generation number means
    something only for one database)."""

    _book: SegmentBook | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, session: Session) -> SegmentBook:
        generation = generation_of(session, SEGMENTS_GENERATION)
        current = self._book
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            compiled = tuple(
                (key, compile_python(parse(condition)))
                for key, condition in sorted(live_segments(session))
            )
            book = SegmentBook(generation, compiled)
            self._book = book
            return book

    def segment_facts(
        self, session: Session, customers: dict[int, dict[str, Any]], now: datetime
    ) -> None:
        """A `FactProvider`: sets `segments` (sorted keys) in each customer's facts."""
        book = self.book(session)
        now_seconds = epoch_seconds(now)
        for facts in customers.values():
            facts["segments"] = book.member_of(facts, now_seconds)
