"""What a backtest reads: the period's stored events in (occurred_at, id) order, streamed with
their customers' facts, and the decisions recorded for the period. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, select, text
from sqlalchemy.orm import Session

from loyalty_engine.events.models import Event
from loyalty_engine.events.reactors import StoredEvent
from loyalty_engine.rules.engine import RulesEngine
from loyalty_engine.rules.models import Decision, Outcome, Rule

EVENTS = Event.__table__  # type: ignore[attr-defined]
DECISIONS = Decision.__table__  # type: ignore[attr-defined]
RULES = Rule.__table__  # type: ignore[attr-defined]
CHUNK = 2_000  # events fetched at a time; the replay holds at most one chunk


@dataclass(frozen=True)
class Period:
    """From `since` (inclusive) to `until` (exclusive)."""

    since: datetime
    until: datetime

    def to_json(self) -> dict[str, str]:
        return {"from": self.since.isoformat(), "until": self.until.isoformat()}


@contextmanager
def read_only(session: Session) -> Iterator[Session]:
    """The session refuses writes while the block runs: the database itself guarantees that a
    backtest changes nothing. Enter it before the session's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION READ ONLY"))  # ends with the transaction
        yield session
        return
    # A setting of the SQLite connection, which goes back to the pool: set it back on the driver's
    # connection itself, which still answers when an error has broken the session's transaction.
    driver = session.connection().connection.dbapi_connection
    assert driver is not None
    driver.cursor().execute("PRAGMA query_only = ON")
    try:
        yield session
    finally:
        driver.cursor().execute("PRAGMA query_only = OFF")


def _where(period: Period, types: frozenset[str]) -> tuple[ColumnElement[bool], ...]:
    return (
        EVENTS.c.occurred_at >= period.since,
        EVENTS.c.occurred_at < period.until,
        EVENTS.c.type.in_(sorted(types)),
    )


def count_events(session: Session, *, period: Period, types: frozenset[str]) -> int:
    """How many events the replay will read (for progress)."""
    if not types:
        return 0
    stmt = select(func.count()).select_from(EVENTS).where(*_where(period, types))
    return int(session.execute(stmt).scalar_one())


def stream_events(
    session: Session,
    *,
    engine: RulesEngine,
    period: Period,
    types: frozenset[str],
    chunk: int = CHUNK,
) -> Iterator[list[tuple[StoredEvent, dict[str, Any]]]]:
    """The period's events of these types, in order, in batches, each event with its customer's
    facts. One query streams them (a server-side cursor on PostgreSQL; SQLite steps its cursor
    as rows are fetched), so memory holds one chunk whatever the period's size.

    Customers' facts, with those of the engine's providers (segments, tiers, milestones,
    balances), are loaded once per customer and UTC day of events, as of the end of that day
    (or `until`): one query per chunk and day, not per event."""
    if not types:
        return
    stmt = (
        select(
            EVENTS.c.id,
            EVENTS.c.customer_id,
            EVENTS.c.type,
            EVENTS.c.source,
            EVENTS.c.occurred_at,
            EVENTS.c.properties,
        )
        .where(*_where(period, types))
        .order_by(EVENTS.c.occurred_at, EVENTS.c.id)
    )
    result = session.execute(stmt, execution_options={"yield_per": chunk})
    facts_day, facts = None, dict[int, dict[str, Any]]()
    for rows in result.partitions():
        events = [StoredEvent(r[0], r[1], "", r[2], r[3], r[4], r[5]) for r in rows]
        for day, batch in groupby(events, key=lambda e: e.occurred_at.date()):
            same_day = list(batch)
            if day != facts_day:
                facts_day, facts = day, {}
            missing = sorted({e.customer_id for e in same_day} - facts.keys())
            if missing:
                as_of = min(datetime.combine(day, time(), UTC) + timedelta(days=1), period.until)
                facts.update({key: {"custom": {}} for key in missing})  # deleted since
                facts.update(engine.customer_facts(session, missing, as_of))
            yield [(e, facts[e.customer_id]) for e in same_day]


def recorded_decisions(
    session: Session, *, period: Period, event_type: str | None
) -> dict[str, Any]:
    """What the rules actually decided about the period's events (any version, as recorded in
    `rule_decisions`), per rule and in total; grants are each decision's main grant."""
    where = [EVENTS.c.occurred_at >= period.since, EVENTS.c.occurred_at < period.until]
    if event_type is not None:
        where.append(EVENTS.c.type == event_type)
    joined = DECISIONS.join(EVENTS, EVENTS.c.id == DECISIONS.c.event_id).join(
        RULES, RULES.c.id == DECISIONS.c.rule_id
    )
    applied = DECISIONS.c.outcome == Outcome.APPLIED
    by_rule: dict[str, dict[str, Any]] = {}
    stmt = (
        select(
            RULES.c.key,
            DECISIONS.c.outcome,
            DECISIONS.c.grant_unit,
            func.count(),
            func.coalesce(func.sum(DECISIONS.c.grant_amount), 0),
        )
        .select_from(joined)
        .where(*where)
        .group_by(RULES.c.key, DECISIONS.c.outcome, DECISIONS.c.grant_unit)
    )
    total = _recorded_figures()
    for key, outcome, unit, count, amount in session.execute(stmt):
        figures = by_rule.setdefault(key, _recorded_figures())
        for target in (figures, total):
            _add_recorded(target, Outcome(outcome), unit, int(count), int(amount))
    customers = select(RULES.c.key, func.count(distinct(DECISIONS.c.customer_id)))
    stmt = customers.select_from(joined).where(*where, applied).group_by(RULES.c.key)
    for key, count in session.execute(stmt):
        by_rule[key]["customers"] = int(count)
    stmt = select(func.count(distinct(DECISIONS.c.customer_id))).select_from(joined)
    total["customers"] = int(session.execute(stmt.where(*where, applied)).scalar_one())
    rules = [{"key": key, **by_rule[key]} for key in sorted(by_rule)]
    return {"rules": rules, "total": total}


def _recorded_figures() -> dict[str, Any]:
    return {
        "matches": 0,
        "applied": 0,
        "capped": 0,
        "over_budget": 0,
        "customers": 0,
        "points": 0,
        "credits": {},
    }


def _add_recorded(
    figures: dict[str, Any], outcome: Outcome, unit: str | None, count: int, amount: int
) -> None:
    figures["matches"] += count
    figures[outcome.value] += count
    if outcome is not Outcome.APPLIED or unit is None:
        return
    if unit == "points":
        figures["points"] += amount
    else:
        figures["credits"][unit] = figures["credits"].get(unit, 0) + amount
