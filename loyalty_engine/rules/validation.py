"""Checking a rule before it is saved: its condition against the fact schema, its actions
against the registry, its segment scope. Every problem at once, each at its JSON path."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.rules.actions import ActionRegistry
from loyalty_engine.rules.conditions import valid_condition
from loyalty_engine.rules.errors import ConditionInvalid
from loyalty_engine.rules.facts import rule_schema
from loyalty_engine.rules.schemas import RuleFields


def rule_validator(actions: ActionRegistry) -> Any:
    def validate(session: Session, fields: RuleFields) -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = []
        try:
            valid_condition(fields.condition, rule_schema())
        except ConditionInvalid as invalid:
            problems += [
                {**p.as_dict(), "path": "$.condition" + p.path.removeprefix("$")}
                for p in invalid.problems
            ]
        _, action_problems = actions.bind([a.model_dump() for a in fields.actions])
        problems += [
            {"path": p.path, "message": p.message, "type": "invalid_action"}
            for p in action_problems
        ]
        if fields.segment is not None:
            # Segments arrive with the segments package; until then no segment exists.
            problems.append(
                {
                    "path": "$.segment",
                    "message": f"unknown segment {fields.segment!r}",
                    "type": "unknown_segment",
                }
            )
        return problems

    return validate
