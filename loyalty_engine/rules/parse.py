"""Parse: a JSON value into nodes, refusing what is not JSON Logic, each problem at its path."""

# Every structural problem is reported at once (unknown operators, wrong operand counts, values
# JSON cannot hold); exceeding a size limit stops the parse at once, since the rest may be huge.

from __future__ import annotations

import difflib
import math
from typing import Any

from loyalty_engine.rules.coerce import exact, to_string
from loyalty_engine.rules.errors import ConditionInvalid, Problem
from loyalty_engine.rules.limits import MAX_DEPTH, MAX_NODES, MAX_STRING, MAX_TEXT
from loyalty_engine.rules.nodes import OPERATORS, Array, Literal, Node, Op, Var

# Spellings people reach for, and the operator they mean.
_ALIASES = {
    "=": "==",
    "eq": "==",
    "equals": "==",
    "ne": "!=",
    "<>": "!=",
    "not": "!",
    "&&": "and",
    "||": "or",
    "contains": "in",
    "concat": "cat",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "=>": ">=",
    "=<": "<=",
}


class _Stop(Exception):
    """A limit was exceeded: the problems so far are reported and parsing ends."""


def parse(logic: Any) -> Node:
    """The nodes of a JSON Logic condition, or ConditionInvalid listing every problem."""
    parser = _Parser()
    try:
        node = parser.node(logic, "$", 0)
    except _Stop:
        raise ConditionInvalid(parser.problems) from None
    if parser.problems:
        raise ConditionInvalid(parser.problems)
    return node


class _Parser:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.nodes = 0
        self.text = 0

    def fail(
        self, path: str, message: str, type_: str = "invalid", hint: str | None = None
    ) -> None:
        self.problems.append(Problem(path, message, type_, hint))

    def limit(self, path: str, message: str) -> None:
        self.fail(path, message, "limit")
        raise _Stop

    def node(self, value: Any, path: str, depth: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.limit(path, f"the condition has more than {MAX_NODES} parts")
        if isinstance(value, dict):
            return self.operation(value, path, depth + 1)
        if isinstance(value, list):
            if depth + 1 > MAX_DEPTH:
                self.limit(path, f"the condition nests deeper than {MAX_DEPTH} levels")
            items = tuple(
                self.node(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)
            )
            return Array(items, path)
        return Literal(self.scalar(value, path), path)

    def scalar(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return exact(int(value))
        if isinstance(value, float):
            if not math.isfinite(value):
                self.fail(path, "numbers must be finite (JSON has no NaN or Infinity)")
            return float(value)
        if isinstance(value, str):
            return self.string(str.__str__(value), path)
        self.fail(path, f"not a JSON value: {type(value).__name__}")
        return None

    def string(self, value: str, path: str) -> str:
        self.text += len(value)
        if len(value) > MAX_STRING:
            self.limit(path, f"a text longer than {MAX_STRING} characters")
        if self.text > MAX_TEXT:
            self.limit(path, f"the condition holds more than {MAX_TEXT} characters of text")
        if "\x00" in value:
            self.fail(path, "text must not contain the NUL character")
        elif any("\ud800" <= ch <= "\udfff" for ch in value):
            self.fail(path, "text must be valid Unicode (no lone surrogates)")
        return value

    def operation(self, value: dict[Any, Any], path: str, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.limit(path, f"the condition nests deeper than {MAX_DEPTH} levels")
        if len(value) != 1:
            keys = ", ".join(repr(k) for k in list(value)[:5])
            message = f"an operation is an object with exactly one key, this one has {len(value)}"
            self.fail(path, message + (f" ({keys})" if keys else ""))
            return Literal(None, path)
        ((op, raw),) = value.items()
        if not isinstance(op, str) or op not in OPERATORS:
            return self.unknown(op, raw, path, depth)
        values = raw if isinstance(raw, list) else [raw]
        base = f"{path}.{op}"
        args = tuple(
            self.node(v, f"{base}[{i}]" if isinstance(raw, list) else base, depth)
            for i, v in enumerate(values)
        )
        self.arity(op, len(args), path)
        if op == "var":
            return self.var(args, path)
        return Op(op, args, path)

    def unknown(self, op: Any, raw: Any, path: str, depth: int) -> Node:
        name = op if isinstance(op, str) else repr(op)
        if name == "log":
            self.fail(path, "'log' is not supported: conditions have no side effects", "operator")
        else:
            self.fail(path, f"unknown operator {name!r}", "operator", _suggest(name))
        for i, v in enumerate(raw if isinstance(raw, list) else [raw]):  # report problems inside
            self.node(v, f"{path}.{name}[{i}]", depth)
        return Literal(None, path)

    def arity(self, op: str, count: int, path: str) -> None:
        arity = OPERATORS[op]
        if arity.least <= count and (arity.most is None or count <= arity.most):
            return
        if arity.most is None:
            wanted = f"at least {arity.least}"
        elif arity.least == arity.most:
            wanted = str(arity.least)
        else:
            wanted = f"{arity.least} to {arity.most}"
        self.fail(f"{path}.{op}", f"'{op}' takes {wanted} operands, got {count}", "arity")

    def var(self, args: tuple[Node, ...], path: str) -> Node:
        if not args:
            return Var((), None, path, f"{path}.var")
        target, default = args[0], (args[1] if len(args) > 1 else None)
        if isinstance(target, Array):
            self.fail(target.path, "a var path is text, a number, or an operation giving one")
            return Var((), default, path, target.path)
        if not isinstance(target, Literal):
            return Op("var", args, path)
        if target.value is None or target.value == "":
            return Var((), default, path, target.path)
        return Var(tuple(to_string(target.value).split(".")), default, path, target.path)


def _suggest(name: str) -> str | None:
    match = _ALIASES.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, list(OPERATORS), n=1, cutoff=0.5)), None
    )
    return None if match is None else f"did you mean {match!r}?"
