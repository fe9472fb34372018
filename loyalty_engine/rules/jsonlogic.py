"""JSON Logic in one call: `compile(logic)` gives a function of the data, `apply(logic, data)`."""

# Parse, fold and compile to Python in one step, for callers that hold a raw rule. Conditions that
# are saved go through `parse` and `check` first, to report every problem with its path.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python


def compile(logic: Any) -> Callable[[Any], Any]:
    """The compiled function of a JSON Logic rule: call it with the data, get the result."""
    return compile_python(parse(logic))


def apply(logic: Any, data: Any = None) -> Any:
    """The result of a JSON Logic rule on `data` (compiles each time: cache `compile` instead)."""
    return compile(logic)(data)
