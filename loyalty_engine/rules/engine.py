"""The rules engine, as the reactor every event passes through: for each event, the active rules
of its type, in priority order, each deciding once (idempotent on rule version and event),
within its limits, with the trace of why stored beside what it did."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from loyalty_engine.customers.models import Customer
from loyalty_engine.db import insert_ignore, prepared
from loyalty_engine.events.models import Event
from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, BoundAction, Grant
from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.customer_facts import customer_facts, epoch_seconds
from loyalty_engine.rules.evaluate import evaluate
from loyalty_engine.rules.facts import Kind
from loyalty_engine.rules.models import (
    ConfigGeneration,
    Decision,
    Outcome,
    Rule,
    RuleBudget,
    RuleVersion,
    VersionStatus,
)
from loyalty_engine.rules.nodes import Node
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python
from loyalty_engine.rules.schemas import Budget, CustomerLimit, Limits
from loyalty_engine.rules.windows import calendar_period, rolling_start

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
DECISIONS = Decision.__table__  # type: ignore[attr-defined]
BUDGETS = RuleBudget.__table__  # type: ignore[attr-defined]
GENERATIONS = ConfigGeneration.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
MAX_EMIT_DEPTH = 3
SAVE_RESULTS = (
    update(DECISIONS)
    .where(DECISIONS.c.id == bindparam("b_id"))
    .values(results=bindparam("b_results", type_=DECISIONS.c.results.type))
)


def _decision_insert(dialect: str) -> Any:
    return insert_ignore(DECISIONS, dialect).returning(DECISIONS.c.id)


# Adds facts to customers' fact objects in place, given the session, the fact objects by customer
# id (traits already there) and the time of evaluation: segments, milestones, balances...
FactProvider = Callable[[Session, dict[int, dict[str, Any]], datetime], None]
# The declared custom traits' kinds, as of the session (a cache that reloads when they change).
DeclaredKinds = Callable[[Session], Mapping[str, Kind]]
# Ingests follow-up events (type, customer external id, properties, idempotency key, depth).
Emitter = Callable[[Session, list[tuple[str, str, dict[str, Any], str]], int], None]


@dataclass(frozen=True)
class CompiledRule:
    rule_id: int
    version_id: int
    key: str
    version: int
    triggers: frozenset[str]
    node: Node
    holds: Callable[[Any], Any]
    actions: tuple[BoundAction, ...]
    limits: Limits
    priority: int
    stop_after_match: bool
    segment: str | None
    active_from: datetime | None
    active_until: datetime | None

    is_windowed: bool = field(init=False)

    def __post_init__(self) -> None:
        windowed = self.active_from is not None or self.active_until is not None
        object.__setattr__(self, "is_windowed", windowed)

    def in_window(self, at: datetime) -> bool:
        return (self.active_from is None or at >= self.active_from) and (
            self.active_until is None or at < self.active_until
        )


def compile_rule(rule: Rule, version: RuleVersion, actions: ActionRegistry) -> CompiledRule:
    """A stored version, ready to run (its content was validated when it was saved)."""
    node = parse(version.condition)
    bound, problems = actions.bind(version.actions)
    if problems:
        raise ValueError(f"rule {rule.key} v{version.version}: {problems[0].message}")
    assert rule.id is not None
    assert version.id is not None
    return CompiledRule(
        rule_id=rule.id,
        version_id=version.id,
        key=rule.key,
        version=version.version,
        triggers=frozenset(version.triggers),
        node=node,
        holds=compile_python(node),
        actions=tuple(bound),
        limits=Limits.model_validate(version.limits),
        priority=version.priority,
        stop_after_match=version.stop_after_match,
        segment=version.segment_key,
        active_from=version.active_from,
        active_until=version.active_until,
    )


@dataclass(frozen=True)
class RuleBook:
    generation: int
    by_trigger: dict[str, tuple[CompiledRule, ...]]

    def for_event(self, event_type: str) -> tuple[CompiledRule, ...]:
        return self.by_trigger.get(event_type, ())


@dataclass
class RuleCatalog:
    """This process's compiled active rules; reloaded when the rules generation moves."""

    actions: ActionRegistry
    _book: RuleBook | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, session: Session) -> RuleBook:
        generation = generation_of(session, "rules")
        current = self._book
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            book = load_book(session, self.actions, generation)
            self._book = book
            return book


def generation_of(session: Session, name: str) -> int:
    stmt = select(GENERATIONS.c.generation).where(GENERATIONS.c.name == name)
    return int(session.execute(stmt).scalar() or 0)


def load_book(session: Session, actions: ActionRegistry, generation: int) -> RuleBook:
    rows = session.execute(
        select(Rule, RuleVersion)
        .join(RuleVersion, RuleVersion.rule_id == Rule.id)  # type: ignore[arg-type]
        .where(RuleVersion.status == VersionStatus.ACTIVE)  # type: ignore[arg-type]
    ).all()
    compiled = sorted(
        (compile_rule(rule, version, actions) for rule, version in rows),
        key=lambda r: (r.priority, r.key),
    )
    by_trigger: dict[str, list[CompiledRule]] = {}
    for rule in compiled:
        for trigger in rule.triggers:
            by_trigger.setdefault(trigger, []).append(rule)
    return RuleBook(generation, {t: tuple(rules) for t, rules in by_trigger.items()})


@dataclass
class RulesEngine:
    """The reactor: registered for every event type."""

    catalog: RuleCatalog
    facts: list[FactProvider] = field(default_factory=list)
    emit: Emitter | None = None
    name: str = "rules"
    # The declared custom trait kinds (read with them, custom traits agree with segments' SQL).
    declared_kinds: DeclaredKinds | None = None

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        book = self.catalog.book(session)
        relevant = [e for e in events if book.for_event(e.type)]
        if not relevant:
            return
        ids = sorted({e.customer_id for e in relevant})
        customers = self.customer_facts(session, ids, ctx.now)
        follow_ups: list[tuple[str, str, dict[str, Any], str]] = []
        results: list[dict[str, Any]] = []
        for event in relevant:
            facts = event_facts(event, customers[event.customer_id], ctx.now)
            for rule in book.for_event(event.type):
                if not matches(rule, event, facts):  # the hot loop: most rules pass most events
                    continue
                self.decide(session, rule, event, facts, ctx, follow_ups, results)
                if rule.stop_after_match:
                    break
        if results:  # what the actions did, for every decision of the batch in one statement
            session.execute(SAVE_RESULTS, results)
        if follow_ups and self.emit is not None:
            self.emit(session, follow_ups, ctx.depth + 1)

    def customer_facts(
        self, session: Session, ids: list[int], now: datetime
    ) -> dict[int, dict[str, Any]]:
        """The `customer` fact objects of these customers, as of `now`."""
        rows = session.execute(select(CUSTOMERS).where(CUSTOMERS.c.id.in_(ids))).mappings()
        kinds = self.declared_kinds(session) if self.declared_kinds is not None else None
        found = {row["id"]: customer_facts(dict(row), custom_traits=kinds) for row in rows}
        for provide in self.facts:
            provide(session, found, now)
        return found

    def decide(
        self,
        session: Session,
        rule: CompiledRule,
        event: StoredEvent,
        facts: dict[str, Any],
        ctx: ReactContext,
        follow_ups: list[tuple[str, str, dict[str, Any], str]],
        results: list[dict[str, Any]],
    ) -> None:
        """Record (once) and carry out the decision of a rule that `matches` the event; what its
        actions did joins `results`, saved by the caller (`react`) for the whole batch at once."""
        explained = evaluate(rule.node, facts)  # the slow path with a trace, for matches only
        grants = [g for g in (a.preview(facts) for a in rule.actions) if g is not None]
        main = grants[0] if grants else None
        outcome, reason = within_limits(session, rule, event, main, ctx.now)
        decision_id = record_decision(
            session, rule, event, outcome, main, explained.to_json(), reason, ctx.now
        )
        if outcome is not Outcome.APPLIED:
            return
        done = self.carry_out(session, rule, event, facts, decision_id, ctx, follow_ups)
        results.append({"b_id": decision_id, "b_results": done})

    def carry_out(
        self,
        session: Session,
        rule: CompiledRule,
        event: StoredEvent,
        facts: dict[str, Any],
        decision_id: int,
        ctx: ReactContext,
        follow_ups: list[tuple[str, str, dict[str, Any], str]],
    ) -> list[dict[str, Any]]:
        def emit(event_type: str, properties: dict[str, Any]) -> bool:
            if ctx.depth >= MAX_EMIT_DEPTH:
                return False
            key = f"decision:{decision_id}:{event_type}:{len(follow_ups)}"
            follow_ups.append((event_type, event.customer_external_id, properties, key))
            return True

        action_ctx = ActionContext(
            session=session,
            now=ctx.now,
            customer_id=event.customer_id,
            customer_external_id=event.customer_external_id,
            event_id=event.id,
            event_type=event.type,
            rule_id=rule.rule_id,
            rule_version_id=rule.version_id,
            decision_id=decision_id,
            facts=facts,
            emit=emit,
        )
        results = []
        for index, action in enumerate(rule.actions):
            this = replace(action_ctx, action_index=index) if index else action_ctx
            outcome = action.spec.run(this, action.params, action.preview(facts))
            results.append({"type": action.spec.name, **outcome})
        return results


def matches(rule: CompiledRule, event: StoredEvent, facts: dict[str, Any]) -> bool:
    """The rule's window, segment scope and condition all hold for the event."""
    if rule.is_windowed and not rule.in_window(event.occurred_at):
        return False
    if rule.segment is not None and rule.segment not in facts["customer"].get("segments", ()):
        return False
    held = rule.holds(facts)
    return held is True or (held is not False and truthy(held))


def event_facts(event: StoredEvent, customer: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "event": {
            "type": event.type,
            "source": event.source,
            "occurred_at": epoch_seconds(event.occurred_at),
            "properties": event.properties,
        },
        "customer": customer,
        "now": epoch_seconds(now),
    }


def within_limits(
    session: Session, rule: CompiledRule, event: StoredEvent, grant: Grant | None, now: datetime
) -> tuple[Outcome, str]:
    """APPLIED, or why not. Callers hold the locks that make the answer stay true:
    the customer row for per-customer limits, the budget row for the rule's budget."""
    if rule.limits.per_customer:
        lock_customer(session, event.customer_id)
        for limit in rule.limits.per_customer:
            reason = _over_customer_limit(session, rule, event, grant, limit, now)
            if reason:
                return Outcome.CAPPED, reason
    budget = rule.limits.budget
    if budget is None or grant is None or grant.unit != budget.unit:
        return Outcome.APPLIED, ""
    if not spend_budget(session, rule, budget, grant.amount, event.occurred_at):
        return Outcome.OVER_BUDGET, f"the rule's {budget.unit} budget for the period is spent"
    return Outcome.APPLIED, ""


# FOR NO KEY UPDATE, not FOR UPDATE: the event row inserted just before holds a key-share lock
# on this customer (its foreign key), and two such transactions asking for FOR UPDATE would
# deadlock. Built once (hot path).
LOCK_CUSTOMER = (
    select(CUSTOMERS.c.id)
    .where(CUSTOMERS.c.id == bindparam("b_customer"))
    .with_for_update(key_share=True)
)


def lock_customer(session: Session, customer_id: int) -> None:
    # Concurrent events of one customer serialize here. SQLite has no row locks (its dialect
    # drops FOR UPDATE, leaving a read that changes nothing): its writer lock already does.
    if session.get_bind().dialect.name != "sqlite":
        session.execute(LOCK_CUSTOMER, {"b_customer": customer_id})


# What a rule already applied to a customer (built once; hot path), ever or within a window
# of event time, counted or summed.
_APPLIED = (
    DECISIONS.c.rule_id == bindparam("b_rule"),
    DECISIONS.c.customer_id == bindparam("b_customer"),
    DECISIONS.c.outcome == Outcome.APPLIED,
)
_IN_WINDOW = DECISIONS.c.event_id.in_(
    select(EVENTS.c.id).where(
        EVENTS.c.customer_id == bindparam("b_customer"),
        EVENTS.c.occurred_at >= bindparam("b_start"),
        EVENTS.c.occurred_at < bindparam("b_end"),
    )
)
_SUMMED = func.coalesce(func.sum(DECISIONS.c.grant_amount), 0)
_OF_UNIT = DECISIONS.c.grant_unit == bindparam("b_unit")
COUNT_APPLIED = {
    False: select(func.count()).where(*_APPLIED),
    True: select(func.count()).where(*_APPLIED, _IN_WINDOW),
}
SUM_APPLIED = {
    False: select(_SUMMED).where(*_APPLIED, _OF_UNIT),
    True: select(_SUMMED).where(*_APPLIED, _OF_UNIT, _IN_WINDOW),
}


def _over_customer_limit(
    session: Session,
    rule: CompiledRule,
    event: StoredEvent,
    grant: Grant | None,
    limit: CustomerLimit,
    now: datetime,
) -> str:
    # Windows are in event time: a January event ingested in March counts in January.
    bounds = _window(limit, event.occurred_at)
    params: dict[str, Any] = {"b_rule": rule.rule_id, "b_customer": event.customer_id}
    if bounds is not None:
        params.update(b_start=bounds[0], b_end=bounds[1])
    windowed = bounds is not None
    if limit.count is not None:
        used = session.execute(COUNT_APPLIED[windowed], params).scalar_one()
        if used >= limit.count:
            return f"limit of {limit.count} per customer {_describe(limit)} reached"
        return ""
    assert limit.amount is not None
    if grant is None or grant.unit != limit.unit:
        return ""
    used = session.execute(SUM_APPLIED[windowed], {**params, "b_unit": limit.unit}).scalar_one()
    if used + grant.amount > limit.amount:
        return f"limit of {limit.amount} {limit.unit} per customer {_describe(limit)} reached"
    return ""


def _window(limit: CustomerLimit, at: datetime) -> tuple[datetime, datetime] | None:
    """[start, end) in event time: the calendar period holding `at`, or the N days up to it."""
    if limit.window.calendar is not None:
        period = calendar_period(limit.window.calendar, at)
        return period.starts_at, period.ends_at
    if limit.window.rolling_days is not None:
        return rolling_start(limit.window.rolling_days, at), at + timedelta(microseconds=1)
    return None


def _describe(limit: CustomerLimit) -> str:
    if limit.window.calendar is not None:
        return f"per {limit.window.calendar.value}"
    if limit.window.rolling_days is not None:
        return f"in {limit.window.rolling_days} days"
    return "ever"


def spend_budget(
    session: Session, rule: CompiledRule, budget: Budget, amount: int, at: datetime
) -> bool:
    """Take `amount` from the rule's budget for the period of `at`, or refuse (never overspend)."""
    period = calendar_period(budget.calendar, at).key if budget.calendar else "all"
    dialect = session.get_bind().dialect.name
    session.execute(
        insert_ignore(BUDGETS, dialect).values(
            rule_id=rule.rule_id, period_key=period, unit=budget.unit, spent=0
        )
    )
    key = (
        BUDGETS.c.rule_id == rule.rule_id,
        BUDGETS.c.period_key == period,
        BUDGETS.c.unit == budget.unit,
    )
    spent = session.execute(
        select(BUDGETS.c.spent).where(*key).with_for_update(key_share=True)
    ).scalar_one()
    if spent + amount > budget.amount:
        return False
    session.execute(update(BUDGETS).where(*key).values(spent=BUDGETS.c.spent + amount))
    return True


def record_decision(
    session: Session,
    rule: CompiledRule,
    event: StoredEvent,
    outcome: Outcome,
    grant: Grant | None,
    trace: dict[str, Any],
    reason: str,
    now: datetime,
) -> int:
    """The new decision's id. Ingest runs reactors only for newly stored events, so a rule version
    meets an event once; the unique key guards that, and a breach rolls the whole batch back
    (with any budget taken for it) rather than deciding twice."""
    applied = grant is not None and outcome is Outcome.APPLIED
    values = {
        "rule_id": rule.rule_id,
        "rule_version_id": rule.version_id,
        "event_id": event.id,
        "customer_id": event.customer_id,
        "outcome": outcome,
        "grant_unit": grant.unit if grant is not None and applied else None,
        "grant_amount": grant.amount if grant is not None and applied else 0,
        "trace": trace,
        "results": [],
        "reason": reason,
        "decided_at": now,
    }
    stmt = prepared("rules.insert_decision", session.get_bind().dialect.name, _decision_insert)
    found = session.execute(stmt, values).scalar_one_or_none()
    if found is None:
        raise RuntimeError(f"rule {rule.key} v{rule.version} already decided event {event.id}")
    return int(found)
