"""Evaluate: facts in, the decision and its explain trace out (why a rule fired, as data)."""

# A tree-walking interpreter over the same operator functions the compiler calls. It is the slow,
# explaining path: the engine runs the compiled condition on every event and evaluates the ones
# that fire again here to store the trace. Folding constants at compile time uses it too.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loyalty_engine.rules import access
from loyalty_engine.rules import operations as ops
from loyalty_engine.rules.coerce import ARRAYS, truthy
from loyalty_engine.rules.limits import budgeted
from loyalty_engine.rules.nodes import Array, Literal, Node, Op, Var


@dataclass(frozen=True, slots=True)
class Step:
    """One operator or fact read during an evaluation, with the value it gave.

    Operators list the steps of the operands they evaluated (`and` stops at the first false
    one, so later operands are absent); the body of map/filter/... is not traced per item.
    """

    path: str
    op: str
    value: Any
    fact: str | None = None  # for a `var`: the fact read
    steps: tuple[Step, ...] = ()

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"path": self.path, "op": self.op, "value": thaw(self.value)}
        if self.fact is not None:
            found["fact"] = self.fact
        if self.steps:
            found["steps"] = [step.to_json() for step in self.steps]
        return found


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The decision on one set of facts, and why: stored with every rule fire."""

    value: Any  # what the condition gave, as JSON
    holds: bool  # its truthiness: whether the rule fires
    trace: Step | None  # None when the condition is a bare literal
    facts: dict[str, Any] = field(default_factory=dict)  # every fact read, by name

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "holds": self.holds,
            "facts": self.facts,
            "trace": None if self.trace is None else self.trace.to_json(),
        }


def evaluate(node: Node, data: Any) -> Evaluation:
    """Evaluate `node` on `data` under a step budget, keeping the trace."""
    value, step = budgeted(lambda d: _Tracer().run(node, d))(data)
    facts: dict[str, Any] = {}
    if step is not None:
        _collect(step, facts)
    return Evaluation(thaw(value), truthy(value), step, facts)


def interpret(node: Node, data: Any) -> Any:
    """Just the value (used to fold constant parts; the caller provides the budget)."""
    return _Tracer().run(node, data)[0]


def thaw(value: Any) -> Any:
    """Frozen literal arrays (tuples) as lists, so results are plain JSON."""
    if isinstance(value, ARRAYS):
        return [thaw(item) for item in value]
    if value.__class__ is dict:
        return {key: thaw(item) for key, item in value.items()}
    return value


def _collect(step: Step, facts: dict[str, Any]) -> None:
    if step.fact is not None:
        facts[step.fact] = thaw(step.value)
    for child in step.steps:
        _collect(child, facts)


Traced = tuple[Any, Step | None]


class _Tracer:
    def run(self, node: Node, data: Any) -> Traced:
        if isinstance(node, Literal):
            return node.value, None
        if isinstance(node, Var):
            return self.var(node, data)
        if isinstance(node, Array):
            results = [self.run(item, data) for item in node.items]
            steps = tuple(s for _, s in results if s is not None)
            return [v for v, _ in results], (Step(node.path, "array", None, None, steps))
        return _HANDLERS[node.op](self, node, data)

    def var(self, node: Var, data: Any) -> Traced:
        found = access.lookup(data, node.segments, ops.MISSING) if node.segments else data
        steps: tuple[Step, ...] = ()
        if found is ops.MISSING:
            found, default = (None, None) if node.default is None else self.run(node.default, data)
            steps = () if default is None else (default,)
        return found, Step(node.path, "var", found, node.name, steps)

    def operands(self, node: Op, data: Any) -> tuple[list[Any], tuple[Step, ...]]:
        results = [self.run(arg, data) for arg in node.args]
        return [v for v, _ in results], tuple(s for _, s in results if s is not None)

    def plain(self, node: Op, data: Any) -> Traced:
        values, steps = self.operands(node, data)
        value = _PLAIN[node.op](*values)
        return value, Step(node.path, node.op, value, None, steps)

    def dynamic_var(self, node: Op, data: Any) -> Traced:
        values, steps = self.operands(node, data)
        value = access.var(data, *values)
        segments = access.var_path(values[0])
        name = None if segments is None else ".".join(segments)
        return value, Step(node.path, "var", value, name, steps)

    def missing(self, node: Op, data: Any) -> Traced:
        values, steps = self.operands(node, data)
        if node.op == "missing":
            value = access.missing(data, values)
        else:
            value = access.missing_some(data, *values)
        return value, Step(node.path, node.op, value, None, steps)

    def branch(self, node: Op, data: Any) -> Traced:
        """and / or / if / ?: evaluate only the operands they need."""
        steps: list[Step] = []

        def run(arg: Node) -> Any:
            value, step = self.run(arg, data)
            if step is not None:
                steps.append(step)
            return value

        value = _BRANCHES[node.op](node.args, run)
        return value, Step(node.path, node.op, value, None, tuple(steps))

    def scoped(self, node: Op, data: Any) -> Traced:
        items, first = self.run(node.args[0], data)
        body = node.args[1]
        steps: tuple[Step, ...] = () if first is None else (first,)

        def run_body(item: Any) -> Any:
            return self.run(body, item)[0]

        if node.op == "reduce":
            initial, third = self.run(node.args[2], data) if len(node.args) > 2 else (None, None)
            steps += () if third is None else (third,)
            value = access.reduce_items(items, run_body, initial)
        else:
            value = _SCOPED[node.op](items, run_body)
        return value, Step(node.path, node.op, value, None, steps)


def _and(args: tuple[Node, ...], run: Callable[[Node], Any]) -> Any:
    value = None
    for arg in args:
        value = run(arg)
        if not truthy(value):
            return value
    return value


def _or(args: tuple[Node, ...], run: Callable[[Node], Any]) -> Any:
    value = None
    for arg in args:
        value = run(arg)
        if truthy(value):
            return value
    return value


def _if(args: tuple[Node, ...], run: Callable[[Node], Any]) -> Any:
    for i in range(0, len(args) - 1, 2):
        if truthy(run(args[i])):
            return run(args[i + 1])
    return run(args[-1]) if len(args) % 2 == 1 else None


_BRANCHES: dict[str, Callable[[tuple[Node, ...], Callable[[Node], Any]], Any]] = {
    "and": _and,
    "or": _or,
    "if": _if,
    "?:": _if,
}
_SCOPED: dict[str, Callable[[Any, Callable[[Any], Any]], Any]] = {
    "map": access.map_items,
    "filter": access.filter_items,
    "all": access.all_items,
    "some": access.some_items,
    "none": access.no_items,
}
_PLAIN: dict[str, Callable[..., Any]] = {
    "==": ops.loose_eq,
    "===": ops.strict_eq,
    "!=": lambda a, b: not ops.loose_eq(a, b),
    "!==": lambda a, b: not ops.strict_eq(a, b),
    ">": ops.gt,
    ">=": ops.ge,
    "<": ops.lt,
    "<=": ops.le,
    "!": lambda a: not truthy(a),
    "!!": truthy,
    "in": ops.contains,
    "cat": ops.cat,
    "substr": ops.substr,
    "+": ops.add,
    "*": ops.mul,
    "-": ops.sub,
    "/": ops.div,
    "%": ops.mod,
    "min": ops.minimum,
    "max": ops.maximum,
    "merge": ops.merge,
}
_HANDLERS: dict[str, Callable[[_Tracer, Op, Any], Traced]] = {
    **dict.fromkeys(_PLAIN, _Tracer.plain),
    **dict.fromkeys(_BRANCHES, _Tracer.branch),
    **dict.fromkeys((*_SCOPED, "reduce"), _Tracer.scoped),
    "var": _Tracer.dynamic_var,
    "missing": _Tracer.missing,
    "missing_some": _Tracer.missing,
}
