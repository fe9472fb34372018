"""Checking a rule before it is saved: its condition against the fact schema, its actions
against the registry, its segment scope. Every problem at once, each at its JSON path."""

from __future__ import annotations

import difflib
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from loyalty_engine.rules.actions import ActionRegistry
from loyalty_engine.rules.conditions import valid_condition
from loyalty_engine.rules.errors import ConditionInvalid
from loyalty_engine.rules.facts import rule_schema
from loyalty_engine.rules.schemas import RuleFields
from loyalty_engine.segments.queries import declared_kinds, segment_keys


def rule_validator(actions: ActionRegistry) -> Any:
    def validate(session: Session, fields: RuleFields) -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = []
        try:
            valid_condition(fields.condition, rule_schema(declared_kinds(session)))
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
            problems += segment_problems(session, fields.segment)
        problems += reference_problems(session, actions, fields)
        return problems

    return validate


def segment_problems(session: Session, key: str) -> list[dict[str, Any]]:
    """A rule's segment scope must name a segment that exists and is not archived."""
    segments = segment_keys(session)  # key -> archived
    if segments.get(key) is False:
        return []
    problem: dict[str, Any] = {
        "path": "$.segment",
        "message": f"unknown segment {key!r}",
        "type": "unknown_segment",
    }
    if key in segments:
        problem.update(message=f"segment {key!r} is archived", type="archived_segment")
    live = sorted(k for k, archived in segments.items() if not archived)
    close = difflib.get_close_matches(key, live, n=1, cutoff=0.6)
    if close:
        problem["suggestion"] = f"did you mean {close[0]}?"
    return [problem]


# --- actions whose parameters name stored things (grant_milestone's milestone) ---


@runtime_checkable
class NamesStoredThings(Protocol):
    """Action parameters that name rows (a milestone by key) say which are missing, given a
    session: the registry binds parameters without one."""

    def missing_references(self, session: Session) -> list[tuple[str, str]]: ...


def reference_problems(
    session: Session, actions: ActionRegistry, fields: RuleFields
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for index, action in enumerate(fields.actions):
        bound, invalid = actions.bind([action.model_dump()])
        params = bound[0].params if bound and not invalid else None
        if not isinstance(params, NamesStoredThings):
            continue
        problems += [
            {
                "path": f"$.actions[{index}].params.{field}",
                "message": message,
                "type": "unknown_reference",
            }
            for field, message in params.missing_references(session)
        ]
    return problems
