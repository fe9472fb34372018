"""The action registry: what a rule may do. Domains register actions at start-up; the engine
looks them up by name and never imports a domain.

Each action declares its parameters (a pydantic model, checked when a rule is saved), can say
what it would grant without doing it (`preview`, used by limits, dry runs and backtests), and
does it (`run`, inside the event's transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from loyalty_engine.errors import json_path

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Grant:
    """What an action hands out, for caps, budgets and backtests: `amount` of `unit`."""

    unit: str  # "points", or a currency such as "usd"
    amount: int


@dataclass(frozen=True)
class ActionContext:
    session: Session
    now: datetime
    customer_id: int
    customer_external_id: str
    event_id: int
    event_type: str
    rule_id: int
    rule_version_id: int
    decision_id: int
    facts: dict[str, Any]
    # Emits a follow-up event through ingest (the one door), in the same transaction; False
    # when the chain of follow-ups is already as deep as allowed.
    emit: Callable[[str, dict[str, Any]], bool]
    # This action's place in its rule version's actions (versions never change).
    action_index: int = 0


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params: type[BaseModel]
    run: Callable[[ActionContext, Any, Grant | None], dict[str, Any]]
    preview: Callable[[Any, dict[str, Any]], Grant | None] = lambda _params, _facts: None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ActionProblem:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class BoundAction:
    """An action of a rule with its validated parameters."""

    spec: ActionSpec
    params: Any

    def preview(self, facts: dict[str, Any]) -> Grant | None:
        return self.spec.preview(self.params, facts)


@dataclass
class ActionRegistry:
    _specs: dict[str, ActionSpec] = field(default_factory=dict)

    def register(self, spec: ActionSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"action {spec.name!r} is already registered")
        self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return sorted(self._specs)

    def bind(self, actions: list[dict[str, Any]]) -> tuple[list[BoundAction], list[ActionProblem]]:
        """Validate `[{"type": ..., "params": {...}}]`; every problem at once, with its path."""
        bound: list[BoundAction] = []
        problems: list[ActionProblem] = []
        for index, action in enumerate(actions):
            where = f"$.actions[{index}]"
            spec = self._specs.get(str(action.get("type")))
            if spec is None:
                known = ", ".join(self.names())
                message = f"unknown action {action.get('type')!r}; known actions: {known}"
                problems.append(ActionProblem(f"{where}.type", message))
                continue
            try:
                bound.append(
                    BoundAction(spec, spec.params.model_validate(action.get("params", {})))
                )
            except ValidationError as exc:
                problems.extend(
                    ActionProblem(f"{where}.params{json_path(e['loc'])[1:]}", e["msg"])
                    for e in exc.errors()
                )
        return bound, problems
