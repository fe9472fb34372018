"""Fold: every part of a condition that does not read data becomes the literal it always gives."""

# Both compilers fold first, so `{"*": [60, 60, 24]}` costs nothing per event and SQL sees one
# literal. A constant part that exceeds the step budget fails here, at compile time.

from __future__ import annotations

from typing import Any

from loyalty_engine.rules.coerce import ARRAYS
from loyalty_engine.rules.evaluate import interpret
from loyalty_engine.rules.limits import budgeted
from loyalty_engine.rules.nodes import Array, Literal, Node, Op, Var, reads_data


def fold(node: Node) -> Node:
    if isinstance(node, Literal):
        return node
    if not reads_data(node):
        value = budgeted(lambda data: interpret(node, data))(None)
        frozen = _freeze(value)
        if frozen is not _UNFROZEN:
            return Literal(frozen, node.path)
    if isinstance(node, Var):
        default = None if node.default is None else fold(node.default)
        return Var(node.segments, default, node.path, node.name_path)
    if isinstance(node, Array):
        return Array(tuple(fold(item) for item in node.items), node.path)
    return Op(node.op, tuple(fold(arg) for arg in node.args), node.path)


_UNFROZEN: Any = object()


def _freeze(value: Any) -> Any:
    """Arrays become tuples, so a literal handed out can never be changed by its receiver.

    Objects (from `reduce` over {current, accumulator}) are left unfolded.
    """
    if isinstance(value, ARRAYS):
        items = tuple(_freeze(item) for item in value)
        return _UNFROZEN if any(item is _UNFROZEN for item in items) else items
    if isinstance(value, dict):
        return _UNFROZEN
    return value
