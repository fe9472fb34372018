"""Backtests (pure): stored events replayed through sets of rules as the engine would decide them
(triggers, active window, segment scope, condition, priority and stop_after_match, limits and
budgets simulated in memory), counted per rule and in total, by month and by segment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from loyalty_engine.events.reactors import StoredEvent
from loyalty_engine.rules.actions import Grant
from loyalty_engine.rules.backtest_limits import SimulatedLimits
from loyalty_engine.rules.engine import CompiledRule, event_facts, matches
from loyalty_engine.rules.errors import LimitExceeded
from loyalty_engine.rules.models import Outcome

NO_SEGMENT = "(no segment)"


@dataclass
class Figures:
    """Counts and grants of one slice (a rule or a set, in total, in a month or a segment)."""

    events: int = 0  # events that reached the rule (or, for a set, of the set's triggers)
    matches: int = 0  # decisions: applied, capped or over budget
    applied: int = 0
    capped: int = 0
    over_budget: int = 0
    errors: int = 0  # conditions that hit an evaluation limit on an event's data
    points: int = 0
    credits: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    customers: set[int] = field(default_factory=set)  # customers with an applied decision

    def record(self, outcome: Outcome, grants: Sequence[Grant], customer_id: int) -> None:
        self.matches += 1
        if outcome is Outcome.CAPPED:
            self.capped += 1
            return
        if outcome is Outcome.OVER_BUDGET:
            self.over_budget += 1
            return
        self.applied += 1
        self.customers.add(customer_id)
        for grant in grants:
            if grant.unit == "points":
                self.points += grant.amount
            else:
                self.credits[grant.unit] = self.credits.get(grant.unit, 0) + grant.amount

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "matches": self.matches,
            "applied": self.applied,
            "capped": self.capped,
            "over_budget": self.over_budget,
            "errors": self.errors,
            "customers": len(self.customers),
            "points": self.points,
            "credits": dict(sorted(self.credits.items())),
        }


@dataclass
class Breakdown:
    """Figures in total, by month (YYYY-MM, UTC) and by segment (a customer counts in each of
    their segments, or in NO_SEGMENT)."""

    total: Figures = field(default_factory=Figures)
    by_month: dict[str, Figures] = field(default_factory=dict)
    by_segment: dict[str, Figures] = field(default_factory=dict)

    def slices(self, month: str, segments: Sequence[str]) -> list[Figures]:
        """The figures an event of this month and these segments counts in."""
        found = [self.total, _slot(self.by_month, month)]
        found.extend(_slot(self.by_segment, segment) for segment in segments)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "by_month": {k: v.to_json() for k, v in sorted(self.by_month.items())},
            "by_segment": {k: v.to_json() for k, v in sorted(self.by_segment.items())},
        }


def _slot(figures: dict[str, Figures], key: str) -> Figures:
    found = figures.get(key)
    if found is None:
        found = figures[key] = Figures()
    return found


@dataclass(frozen=True)
class RuleLabel:
    """How the report names a replayed rule."""

    key: str
    version: int | None  # None for a draft that is not saved
    name: str
    status: str  # "unsaved", or the saved version's status: draft, active, archived

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "version": self.version, "name": self.name, "status": self.status}


@dataclass
class ReplayedRule:
    label: RuleLabel
    rule: CompiledRule
    limits: SimulatedLimits
    figures: Breakdown = field(default_factory=Breakdown)


class Simulation:
    """One set of rules replayed as the engine runs its active rules: each event through the
    rules of its type in (priority, key) order, until one with stop_after_match matches."""

    def __init__(self, rules: Sequence[tuple[RuleLabel, CompiledRule]]) -> None:
        self.rules = [
            ReplayedRule(label, rule, SimulatedLimits(rule.limits)) for label, rule in rules
        ]
        self.total = Breakdown()
        self._by_trigger: dict[str, list[ReplayedRule]] = {}
        for replayed in sorted(self.rules, key=lambda r: (r.rule.priority, r.rule.key)):
            for trigger in replayed.rule.triggers:
                self._by_trigger.setdefault(trigger, []).append(replayed)

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(self._by_trigger)

    def observe(
        self, event: StoredEvent, facts: dict[str, Any], month: str, segments: Sequence[str]
    ) -> None:
        rules = self._by_trigger.get(event.type)
        if not rules:
            return
        total = self.total.slices(month, segments)
        for figures in total:
            figures.events += 1
        for replayed in rules:
            own = replayed.figures.slices(month, segments)
            for figures in own:
                figures.events += 1
            matched = _decide(replayed, event, facts, [*own, *total])
            if matched and replayed.rule.stop_after_match:
                break

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [{**r.label.to_json(), **r.figures.to_json()} for r in self.rules],
            "total": self.total.to_json(),
        }


def _decide(
    replayed: ReplayedRule, event: StoredEvent, facts: dict[str, Any], counted: list[Figures]
) -> bool:
    """Whether the rule matched (as `RulesEngine.decide` answers); the decision is counted in
    the rule's figures and the set's (`counted`)."""
    rule = replayed.rule
    try:
        holds = matches(rule, event, facts)  # as the engine decides whether a rule applies
    except LimitExceeded:  # the live engine would fail the event's batch; the replay counts it
        for figures in counted:
            figures.errors += 1
        return False
    if not holds:
        return False
    grants = [g for g in (a.preview(facts) for a in rule.actions) if g is not None]
    main = grants[0] if grants else None
    outcome = replayed.limits.decide(event.customer_id, event.occurred_at, main)
    for figures in counted:
        figures.record(outcome, grants, event.customer_id)
    return True


class Replay:
    """The tested rules and, for comparison, the active ones, fed the same events in order."""

    def __init__(self, tested: Simulation, active: Simulation | None) -> None:
        self.tested = tested
        self.active = active
        self.events = 0

    @property
    def triggers(self) -> frozenset[str]:
        return self.tested.triggers | (self.active.triggers if self.active else frozenset())

    def observe(self, event: StoredEvent, customer: dict[str, Any]) -> None:
        """One stored event and its customer's facts; `now` is the event's time."""
        at = event.occurred_at.astimezone(UTC)
        facts = event_facts(event, customer, at)
        month = at.strftime("%Y-%m")
        segments = tuple(customer.get("segments") or ()) or (NO_SEGMENT,)
        self.events += 1
        self.tested.observe(event, facts, month, segments)
        if self.active is not None:
            self.active.observe(event, facts, month, segments)

    def to_json(self) -> dict[str, Any]:
        """The tested rules' figures; with the active rules', theirs and the difference (tested
        minus active), in total and for each tested rule that has an active version."""
        tested = self.tested.to_json()
        if self.active is None:
            return {**tested, "active": None, "delta": None}
        active_by_key = {r.label.key: r for r in self.active.rules}
        for entry, replayed in zip(tested["rules"], self.tested.rules, strict=True):
            active = active_by_key.get(replayed.label.key)
            entry["active_version"] = active.label.version if active else None
            entry["delta"] = (
                difference(replayed.figures.to_json(), active.figures.to_json()) if active else None
            )
        totals = self.tested.total.to_json(), self.active.total.to_json()
        return {**tested, "active": self.active.to_json(), "delta": difference(*totals)}


def difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """`a - b` for two figure objects (`Figures.to_json`, or `Breakdown.to_json` with months and
    segments); a month, segment or currency one side lacks counts as zero there."""
    found: dict[str, Any] = {}
    for key in dict.fromkeys([*a, *b]):
        left, right = a.get(key), b.get(key)
        if key == "credits":
            found[key] = _per_key(left or {}, right or {}, lambda x, y: (x or 0) - (y or 0))
        elif key in ("by_month", "by_segment"):
            found[key] = _per_key(
                left or {}, right or {}, lambda x, y: difference(x or {}, y or {})
            )
        else:
            found[key] = (left or 0) - (right or 0)
    return found


def _per_key(a: dict[str, Any], b: dict[str, Any], subtract: Any) -> dict[str, Any]:
    return {key: subtract(a.get(key), b.get(key)) for key in sorted({*a, *b})}
