"""Check: a parsed condition against the fact schema, every problem at once, each with a hint."""

# Reports facts the schema does not know (with the closest name), fact names computed at run time
# (which cannot be checked), and operands whose kind the schema knows to be wrong for their
# operator: comparisons that are always false, arithmetic on text, `in` on a number.

from __future__ import annotations

from itertools import pairwise
from typing import Any

from loyalty_engine.rules.coerce import to_number
from loyalty_engine.rules.errors import Problem
from loyalty_engine.rules.facts import FactSchema, Kind
from loyalty_engine.rules.nodes import SCOPED, Array, Literal, Node, Op, Var, children

_BOOLEAN_OPS = frozenset({"==", "===", "!=", "!==", "<", "<=", ">", ">=", "!", "!!", "in"})
_NUMBER_OPS = frozenset({"+", "-", "*", "/", "%", "min", "max"})
_LIST_OPS = frozenset({"merge", "map", "filter", "missing", "missing_some"})
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_FACTS, _ITEM, _REDUCE = "facts", "item", "reduce"  # what `var` reads in a part of the tree


def check(node: Node, schema: FactSchema) -> list[Problem]:
    """Every problem of `node` against `schema`; an empty list means it may be saved."""
    checker = _Checker(schema)
    checker.visit(node, _FACTS)
    return checker.problems


class _Checker:
    def __init__(self, schema: FactSchema) -> None:
        self.schema = schema
        self.problems: list[Problem] = []

    def report(self, path: str, message: str, type_: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path, message, type_, hint))

    def visit(self, node: Node, scope: str) -> None:
        if isinstance(node, Var):
            self.var(node, scope)
        elif isinstance(node, Op):
            self.op(node, scope)
            return
        for child in children(node):
            self.visit(child, scope)

    def op(self, node: Op, scope: str) -> None:
        if node.op in SCOPED:
            self.items_operand(node, scope)
            self.visit(node.args[0], scope)
            self.visit(node.args[1], _REDUCE if node.op == "reduce" else _ITEM)
            for arg in node.args[2:]:
                self.visit(arg, scope)
            return
        if scope == _FACTS and node.op == "var":
            self.report(
                node.path,
                "the fact to read is computed when the condition runs, so it cannot be checked",
                "fact",
                'write the fact\'s name itself, e.g. {"var": "customer.plan"}',
            )
        if scope == _FACTS and node.op in ("missing", "missing_some"):
            self.missing_names(node)
        self.operand_kinds(node, scope)
        for arg in node.args:
            self.visit(arg, scope)

    def items_operand(self, node: Op, scope: str) -> None:
        kind = self.kind(node.args[0], scope)
        if kind is not None and kind != Kind.LIST:
            message = f"{_name(node.args[0])} is {kind.label}: '{node.op}' goes over a list"
            self.report(node.args[0].path, message, "type", "give it a list fact")

    # --- facts ---

    def var(self, node: Var, scope: str) -> None:
        if scope == _REDUCE and node.segments[:1] not in (("current",), ("accumulator",)):
            message = "inside reduce, var reads 'current' (the item) or 'accumulator'"
            self.report(node.name_path, message, "fact", 'e.g. {"var": "current.qty"}')
        elif scope == _FACTS and not node.segments:
            message = "this reads every fact at once"
            self.report(node.name_path, message, "fact", "name one fact, e.g. customer.plan")
        elif scope == _FACTS:
            self.fact(node.name, node.name_path)

    def fact(self, name: str, path: str) -> None:
        if self.schema.find(name) is not None:
            return
        inside = self.schema.scalar_prefix(name)
        if inside is not None:
            field = name[len(inside.name) + 1 :]
            message = f"{inside.name} is {inside.kind.label}: it has no field {field!r}"
            self.report(path, message, "fact", f"read {inside.name} itself")
            return
        family = self.schema.family_refusing(name)
        if family is not None:
            lowered = name.lower()
            hint = f"did you mean {lowered}?" if self.schema.find(lowered) else family.members_hint
            self.report(path, f"unknown fact {name}", "fact", hint or None)
            return
        close = self.schema.suggest(name)
        self.report(
            path, f"unknown fact {name}", "fact", f"did you mean {close}?" if close else None
        )

    def missing_names(self, node: Op) -> None:
        names = node.args if node.op == "missing" else node.args[1:]
        for arg in names:
            items = arg.items if isinstance(arg, Array) else (arg,)
            for item in items:
                if isinstance(item, Literal) and isinstance(item.value, str):
                    self.fact(item.value, item.path)
                elif not isinstance(item, Literal):
                    message = "the facts to look for are computed, so they cannot be checked"
                    self.report(item.path, message, "fact", "list the fact names themselves")

    # --- kinds ---

    def kind(self, node: Node, scope: str) -> Kind | None:
        """The kind of value `node` gives, where the schema or the operator says."""
        if isinstance(node, Literal):
            return _literal_kind(node.value)
        if isinstance(node, Var):
            found = self.schema.find(node.name) if scope == _FACTS and node.segments else None
            if found is None or found.kind == Kind.ANY or node.default is not None:
                return None
            return found.kind
        if isinstance(node, Array):
            return Kind.LIST
        if node.op in _BOOLEAN_OPS or node.op in ("all", "some", "none"):
            return Kind.BOOLEAN
        if node.op in _NUMBER_OPS:
            return Kind.NUMBER
        if node.op in ("cat", "substr"):
            return Kind.STRING
        return Kind.LIST if node.op in _LIST_OPS else None

    def operand_kinds(self, node: Op, scope: str) -> None:
        kinds = [self.kind(arg, scope) for arg in node.args]
        if node.op in _ORDER_OPS or node.op in ("==", "!="):
            operands = list(zip(node.args, kinds, strict=True))
            for (a, ka), (b, kb) in pairwise(operands):
                self.compare(node, a, ka, b, kb)
        elif node.op in ("===", "!==") and _differ(kinds[0], kinds[1]):
            self.report(node.path, f"{_kinds(node, kinds)}: '===' is always false", "type")
        elif node.op in _NUMBER_OPS:
            for arg, kind in zip(node.args, kinds, strict=True):
                if kind is not None and not kind.is_number and not _numeric_text(arg):
                    message = f"{_name(arg)} is {kind.label}: '{node.op}' needs numbers"
                    self.report(arg.path, message, "type", "use a number fact or a number")
        elif node.op == "in" and kinds[1] not in (None, Kind.STRING, Kind.LIST):
            message = f"{_name(node.args[1])} is {kinds[1].label}: 'in' looks in text or a list"
            self.report(node.args[1].path, message, "type", "this is always false")

    def compare(self, node: Op, a: Node, ka: Kind | None, b: Node, kb: Kind | None) -> None:
        if ka is None or kb is None:
            return
        for side, kind in ((a, ka), (b, kb)):
            if kind in (Kind.LIST, Kind.OBJECT) and isinstance(side, Var):
                hint = "use 'in' to test membership" if kind == Kind.LIST else None
                message = f"{_name(side)} is {kind.label}: '{node.op}' compares its text"
                self.report(side.path, message, "type", hint)
                return
        text, number = (a, b) if ka == Kind.STRING else (b, a)
        if {ka.is_number, kb.is_number} == {True, False} and Kind.STRING in (ka, kb):
            if isinstance(text, Var):
                message = f"{_name(text)} is text, {_name(number)} a number: '{node.op}' turns"
                message += " the text into a number, usually NaN, which compares false"
                self.report(node.path, message, "type", "compare text with text")
            elif not _numeric_text(text):
                message = f"{_name(text)} is not a number, so '{node.op}' with a number is "
                message += "always false" if node.op != "!=" else "always true"
                self.report(text.path, message, "type", f"compare {_name(number)} with a number")


def _literal_kind(value: Any) -> Kind | None:
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, (int, float)):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    return Kind.LIST if isinstance(value, tuple) else None


def _numeric_text(node: Node) -> bool:
    if not isinstance(node, Literal) or not isinstance(node.value, str):
        return False
    number = to_number(node.value)
    return number == number


def _differ(a: Kind | None, b: Kind | None) -> bool:
    if a is None or b is None:
        return False
    return a != b and not (a.is_number and b.is_number)


def _name(node: Node) -> str:
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Literal):
        return repr(node.value) if not isinstance(node.value, tuple) else "this list"
    return "this operand"


def _kinds(node: Op, kinds: list[Kind | None]) -> str:
    a, b = node.args
    return f"{_name(a)} is {kinds[0].label if kinds[0] else '?'}, {_name(b)} is " + (
        kinds[1].label if kinds[1] else "?"
    )
