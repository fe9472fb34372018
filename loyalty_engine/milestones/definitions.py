"""Milestone definitions, checked and compiled: step and milestone conditions against the rule fact
schema (every problem at once, each at its JSON path), then to Python for per-event checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loyalty_engine.milestones.progress import Goal, required_count
from loyalty_engine.milestones.schemas import MilestoneFields
from loyalty_engine.rules.coerce import truthy
from loyalty_engine.rules.conditions import valid_condition
from loyalty_engine.rules.errors import ConditionInvalid
from loyalty_engine.rules.facts import FactSchema
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python

Check = Callable[[Any], Any]


def problems(fields: MilestoneFields, schema: FactSchema) -> list[dict[str, Any]]:
    """Every problem of the definition's conditions (which read what a rule's may: the event,
    the customer, now), as {"path", "message", "type", ...}."""
    found: list[dict[str, Any]] = []
    conditions = [(f"$.steps[{i}].condition", s.condition) for i, s in enumerate(fields.steps)]
    conditions.append(("$.condition", fields.condition))
    for where, logic in conditions:
        if logic is None:
            continue
        try:
            valid_condition(logic, schema)
        except ConditionInvalid as invalid:
            found += [
                {**p.as_dict(), "path": where + p.path.removeprefix("$")} for p in invalid.problems
            ]
    return found


@dataclass(frozen=True, slots=True)
class CompiledStep:
    key: str
    event: str
    count: int
    check: Check | None

    def counts(self, facts: dict[str, Any]) -> bool:
        return self.check is None or truthy(self.check(facts))


@dataclass(frozen=True, slots=True)
class CompiledMilestone:
    id: int
    key: str
    steps: tuple[CompiledStep, ...]
    required: int
    check: Check | None

    @property
    def goals(self) -> tuple[Goal, ...]:
        return tuple(Goal(s.key, s.count) for s in self.steps)

    @property
    def manual(self) -> bool:
        return not self.steps and self.check is None

    def holds(self, facts: dict[str, Any]) -> bool:
        return self.check is None or truthy(self.check(facts))


def _compiled(logic: Any) -> Check | None:
    return None if logic is None else compile_python(parse(logic))


def compile_milestone(
    milestone_id: int,
    key: str,
    steps: list[dict[str, Any]],
    *,
    required_steps: int | None,
    required_bps: int | None,
    condition: Any,
) -> CompiledMilestone:
    """A stored definition, ready to run (it was validated when it was saved)."""
    compiled = tuple(
        CompiledStep(s["key"], s["event"], int(s.get("count", 1)), _compiled(s.get("condition")))
        for s in steps
    )
    required = required_count(len(compiled), steps=required_steps, bps=required_bps)
    return CompiledMilestone(milestone_id, key, compiled, required, _compiled(condition))
