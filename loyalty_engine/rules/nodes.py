"""The parsed form of a condition: small immutable nodes, each knowing its JSON path."""

# `Var` is a `var` whose path is a literal (split once, at parse time); a `var` whose path is
# computed stays an `Op("var", ...)`. Arrays whose items are all literals fold to a `Literal`
# tuple.

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # None, bool, int, float, str, or a tuple (a frozen array)
    path: str


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Node, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Var:
    segments: tuple[str, ...]  # () reads the whole data
    default: Node | None
    path: str
    name_path: str = ""  # where the fact's name is written: `$.and[1].var` or `$.var[0]`

    @property
    def name(self) -> str:
        return ".".join(self.segments)


@dataclass(frozen=True, slots=True)
class Op:
    op: str
    args: tuple[Node, ...]
    path: str


Node = Literal | Array | Var | Op


@dataclass(frozen=True, slots=True)
class Arity:
    least: int
    most: int | None  # None: any number


# Every operator the language knows, with how many operands it takes. JavaScript's json-logic
# ignores extra operands and reads missing ones as undefined; here a wrong count is a parse error,
# because in a saved condition it is always a mistake.
OPERATORS: dict[str, Arity] = {
    "==": Arity(2, 2),
    "===": Arity(2, 2),
    "!=": Arity(2, 2),
    "!==": Arity(2, 2),
    ">": Arity(2, 2),
    ">=": Arity(2, 2),
    "<": Arity(2, 3),
    "<=": Arity(2, 3),
    "!": Arity(1, 1),
    "!!": Arity(1, 1),
    "and": Arity(1, None),
    "or": Arity(1, None),
    "if": Arity(0, None),
    "?:": Arity(3, 3),
    "in": Arity(2, 2),
    "cat": Arity(0, None),
    "substr": Arity(2, 3),
    "+": Arity(0, None),
    "*": Arity(1, None),
    "-": Arity(1, 2),
    "/": Arity(2, 2),
    "%": Arity(2, 2),
    "min": Arity(1, None),
    "max": Arity(1, None),
    "merge": Arity(0, None),
    "var": Arity(0, 2),
    "missing": Arity(0, None),
    "missing_some": Arity(2, 2),
    "map": Arity(2, 2),
    "filter": Arity(2, 2),
    "reduce": Arity(2, 3),
    "all": Arity(2, 2),
    "some": Arity(2, 2),
    "none": Arity(2, 2),
}

# The second operand of these runs once per item, with the item (for reduce: {current,
# accumulator}) as its data.
SCOPED = frozenset({"map", "filter", "reduce", "all", "some", "none"})
# These read the data they run on, so they never fold to a constant.
READS_DATA = frozenset({"var", "missing", "missing_some"})


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Array):
        return node.items
    if isinstance(node, Op):
        return node.args
    if isinstance(node, Var):
        return () if node.default is None else (node.default,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def reads_data(node: Node) -> bool:
    """Whether the value of `node` depends on the data it is evaluated on."""
    if isinstance(node, Var):
        return True
    if isinstance(node, Op):
        if node.op in READS_DATA:
            return True
        if node.op in SCOPED:  # the body reads the item, not this data
            outer = node.args[:1] + node.args[2:]
            return any(reads_data(arg) for arg in outer)
        return any(reads_data(arg) for arg in node.args)
    if isinstance(node, Array):
        return any(reads_data(item) for item in node.items)
    return False
