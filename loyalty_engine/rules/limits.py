"""The bounds that keep a hostile condition from exhausting the worker (checked, never assumed)."""

# Parsing bounds the condition (depth, nodes, literal text). Evaluation of a condition that loops
# over data, or that has many operators whose work grows with the data, runs under a `Budget`:
# loops spend one step per item, and operators that walk a value spend by its size.

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from loyalty_engine.rules.errors import LimitExceeded

MAX_DEPTH = 32  # operators and arrays nested in one another
MAX_NODES = 2_000  # operators, arrays and literals in one condition
MAX_STRING = 4_096  # characters in one string literal
MAX_TEXT = 65_536  # characters of all string literals together
MAX_STEPS = 100_000  # per evaluation: items looped over, array elements walked, characters / 64
MAX_VALUE_LEN = 100_000  # elements of an array, or characters of a string, built by a condition
MAX_VALUE_DEPTH = 64  # nesting of a data value turned into text (`cat`, `==` against an array)
SAFE_INTEGER = 2**53  # beyond this JavaScript numbers are inexact: integers there become floats
HEAVY_UNBUDGETED = 16  # a condition with more operators whose work grows with data is budgeted

_active = threading.local()


class Budget:
    """The steps left to one evaluation."""

    __slots__ = ("left",)

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise LimitExceeded(
                f"the condition needs more than {MAX_STEPS} steps on this data",
                details={"max_steps": MAX_STEPS},
            )


def spend(steps: int) -> None:
    """Spend from the budget of the evaluation running in this thread, if it has one."""
    budget: Budget | None = getattr(_active, "budget", None)
    if budget is not None:
        budget.spend(steps)


def spend_text(text: str) -> None:
    if len(text) >= 64:
        spend(len(text) // 64)


def budgeted(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` running under a fresh budget per call (nested calls share the outer one)."""

    def run(data: Any) -> Any:
        if getattr(_active, "budget", None) is not None:
            return function(data)
        _active.budget = Budget()
        try:
            return function(data)
        finally:
            _active.budget = None

    return run


def check_length(value: str | list[Any]) -> None:
    if len(value) > MAX_VALUE_LEN:
        raise LimitExceeded(
            f"the condition built a value longer than {MAX_VALUE_LEN}",
            details={"max_length": MAX_VALUE_LEN},
        )
