"""How much an action grants (pure): a fixed integer, or so many units per so much of a fact.

`{"per": 100, "of": "event.properties.amount_minor", "units": 1}` grants one unit for every whole
100 of the fact, rounded down (earned points never round up). Facts that are missing, negative,
booleans or not integers grant nothing rather than guessing.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from loyalty_engine.money import per_unit_floor

FactPath = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*(\.[A-Za-z0-9_]+)+$")]


class PerUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per: Annotated[StrictInt, Field(gt=0, description="Grant `units` for every whole `per` ...")]
    of: FactPath = Field(description="... of this fact, e.g. event.properties.amount_minor.")
    units: Annotated[StrictInt, Field(gt=0)] = 1
    max: Annotated[StrictInt, Field(gt=0)] | None = Field(default=None, description="A ceiling.")


Amount = Annotated[StrictInt, Field(gt=0)] | PerUnit


def resolve(amount: Amount, facts: dict[str, Any]) -> int:
    """The integer amount for these facts (0 when the fact is absent or unusable)."""
    if isinstance(amount, int):
        return amount
    value = read_fact(facts, amount.of)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    granted = per_unit_floor(value, per=amount.per, unit=amount.units)
    return min(granted, amount.max) if amount.max is not None else granted


def read_fact(facts: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = facts
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
