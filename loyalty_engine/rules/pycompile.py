"""Compile to Python: a condition becomes the source of one function, compiled once."""

# Generated source rather than closures, because it runs within a small factor of a hand-written
# lambda: fact reads are hoisted and inlined (`.get` chains), and common shapes (a fact compared
# with a literal) skip the general operator. Safe by construction: the source holds only names this
# module makes and its own templates; every value from the condition (text, numbers, paths) reaches
# the function as a constant bound by name, never as source text.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loyalty_engine.rules.coerce import NUMBERS
from loyalty_engine.rules.evaluate import thaw
from loyalty_engine.rules.fold import fold
from loyalty_engine.rules.limits import HEAVY_UNBUDGETED, budgeted
from loyalty_engine.rules.nodes import SCOPED, Array, Literal, Node, Op, Var, walk
from loyalty_engine.rules.pynames import (
    ANY,
    BOOL,
    CALLS,
    CHEAP,
    ITEMS,
    NAMESPACE,
    NEST,
    NUM,
    ORDER,
    STR,
)


@dataclass(frozen=True, slots=True)
class _Expr:
    """Generated code for one value, and its static type where known."""

    code: str
    type: str = ANY
    simple: bool = False  # a name or a constant: safe to write twice


@dataclass(frozen=True, slots=True)
class Generated:
    """A condition's generated source, the constants it names, and how to run it."""

    source: str
    constants: dict[str, Any]
    entry: str
    budgeted: bool
    result_type: str


def compile_python(node: Node) -> Callable[[Any], Any]:
    """A function of the data giving the condition's value (plain JSON), folded and compiled."""
    generated = generate(node)
    namespace = {**NAMESPACE, **generated.constants}
    exec(compile(generated.source, "<condition>", "exec"), namespace)
    function: Callable[[Any], Any] = namespace[generated.entry]
    if generated.result_type == ANY:
        function = _thawing(function)
    return budgeted(function) if generated.budgeted else function


def generate(node: Node) -> Generated:
    """The source and constants for `node` (exposed for tests and `loyalty bench`)."""
    folded = fold(node)
    heavy = sum(1 for n in walk(folded) if isinstance(n, Op) and n.op not in CHEAP)
    charged = heavy > HEAVY_UNBUDGETED or any(
        isinstance(n, Op) and n.op in SCOPED for n in walk(folded)
    )
    generator = _Generator(charged)
    entry, result_type = generator.function(folded)
    return Generated(generator.source(), generator.constants, entry, charged, result_type)


def _thawing(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(data: Any) -> Any:
        value = function(data)
        return thaw(value) if isinstance(value, (list, tuple)) else value

    return run


class _Scope:
    """One generated function: its hoisted fact reads, then one return expression."""

    def __init__(self) -> None:
        self.reads: dict[tuple[tuple[str, ...], bool], str] = {}
        self.lines: list[str] = []


class _Generator:
    def __init__(self, charged: bool) -> None:
        self.charged = charged  # budgeted: no inline shortcut may walk a value unmetered
        self.constants: dict[str, Any] = {}
        self._by_value: dict[tuple[type, Any], str] = {}
        self.blocks: list[str] = []
        self.names = 0
        self.scopes: list[_Scope] = []

    def source(self) -> str:
        return "\n\n".join(self.blocks) + "\n"

    def fresh(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def const(self, value: Any) -> _Expr:
        if value is None or value is True or value is False:
            return _Expr(repr(value), BOOL if value is not None else ANY, simple=True)
        # One name per distinct constant; by repr for floats, so -0.0 and 0.0 stay apart.
        same = repr(value) if isinstance(value, float) else value
        key = (value.__class__, same) if not isinstance(value, tuple) else None
        name = self._by_value.get(key) if key is not None else None
        if name is None:
            name = self.fresh("_k")
            self.constants[name] = value
            if key is not None:
                self._by_value[key] = name
        kind = {int: NUM, float: NUM, str: STR}.get(value.__class__, ANY)
        return _Expr(name, kind, simple=True)

    def function(self, body: Node) -> tuple[str, str]:
        """Generate `def _fN(data): ...` returning `body`; its name and result type."""
        name = self.fresh("_f")
        scope = _Scope()
        self.scopes.append(scope)
        result = self.expr(body, 0)
        self.scopes.pop()
        lines = [f"def {name}(data):", *scope.lines, f"    return {result.code}"]
        self.blocks.append("\n".join(lines))
        return name, result.type

    def call_function(self, body: Node) -> _Expr:
        name, type_ = self.function(body)
        return _Expr(f"{name}(data)", type_)

    # --- expressions ---

    def expr(self, node: Node, depth: int) -> _Expr:
        if depth >= NEST and not isinstance(node, (Literal, Var)):
            return self.call_function(node)
        if isinstance(node, Literal):
            return self.const(node.value)
        if isinstance(node, Var):
            return self.var(node, depth)
        if isinstance(node, Array):
            items = ", ".join(self.expr(item, depth + 1).code for item in node.items)
            return _Expr(f"[{items}]")
        return self.op(node, depth)

    def var(self, node: Var, depth: int) -> _Expr:
        if not node.segments:
            value = _Expr("data", simple=True)
        else:
            value = _Expr(self.read(node.segments, node.default is not None), simple=True)
        if node.default is None:
            return value
        default = self.expr(node.default, depth + 1)
        return _Expr(f"({default.code} if {value.code} is _MISSING else {value.code})")

    def read(self, segments: tuple[str, ...], keep_missing: bool) -> str:
        scope = self.scopes[-1]
        key = (segments, keep_missing)
        if key in scope.reads:
            return scope.reads[key]
        name = self.fresh("_v")
        # Through objects with .get (a missing key raises nothing: facts are often absent);
        # anything else (an array, a null on the way) raises AttributeError: the general walk.
        fallback = "_MISSING" if keep_missing else "None"
        steps = [f".get({self.const(s).code}, _EMPTY)" for s in segments[:-1]]
        steps.append(f".get({self.const(segments[-1]).code}, {fallback})")
        scope.lines += [
            "    try:",
            f"        {name} = data{''.join(steps)}",
            "    except AttributeError:",
            f"        {name} = _lookup(data, {self.const(segments).code}, {fallback})",
        ]
        scope.reads[key] = name
        return name

    def op(self, node: Op, depth: int) -> _Expr:
        op = node.op
        if op in ("and", "or"):
            return self.and_or(node, depth)
        if op in ("if", "?:"):
            return self.if_(node, depth)
        if op in SCOPED:
            return self.scoped(node, depth)
        args = [self.expr(arg, depth + 1) for arg in node.args]
        if op in ("!", "!!"):
            truth = self.truth(args[0])
            return _Expr(f"(not {truth})" if op == "!" else truth, BOOL)
        if op in ("==", "!=", "===", "!=="):
            equal = self.equal(args[0], args[1], strict=op in ("===", "!=="))
            return _Expr(equal if op in ("==", "===") else f"(not {equal})", BOOL)
        if op in ORDER:
            return self.order(op, args)
        if op == "in":
            return self.contains(args[0], args[1], node.args[1])
        if op in CALLS:
            helper, type_ = CALLS[op]
            return _Expr(f"{helper}({', '.join(a.code for a in args)})", type_)
        if op == "var":
            return _Expr(f"_var(data, {', '.join(a.code for a in args)})")
        if op == "missing":
            return _Expr(f"_missing(data, ({''.join(a.code + ', ' for a in args)}))")
        return _Expr(f"_missing_some(data, {args[0].code}, {args[1].code})")  # missing_some

    def truth(self, value: _Expr) -> str:
        if value.type == BOOL:
            return value.code
        if value.type == STR:
            return f"({value.code} != '')"
        return f"_T({value.code})"

    def bind(self, value: _Expr) -> tuple[str, str]:
        """(first use, later uses) of a value: a complex one is named by a walrus on first use."""
        if value.simple:
            return value.code, value.code
        name = self.fresh("_t")
        return f"({name} := {value.code})", name

    def equal(self, a: _Expr, b: _Expr, *, strict: bool) -> str:
        general = "_seq" if strict else "_eq"
        if a.type == b.type and a.type in (NUM, STR, BOOL):
            if a.type == STR and self.charged:
                return f"{general}({a.code}, {b.code})"
            return f"({a.code} == {b.code})"
        if b.simple and b.type in (NUM, STR) and a.type == ANY:
            a, b = b, a  # the literal first
        if a.simple and a.type in (NUM, STR) and b.type == ANY:
            first, later = self.bind(b)
            test = "is str" if a.type == STR else "in _NUMS"
            slow = f"{general}({later}, {a.code})"
            return f"({later} == {a.code} if {first}.__class__ {test} else {slow})"
        return f"{general}({a.code}, {b.code})"

    def order(self, op: str, args: list[_Expr]) -> _Expr:
        helper, symbol = ORDER[op]
        general = f"{helper}({', '.join(a.code for a in args)})"
        if len(args) == 3:
            return _Expr(general, BOOL)
        a, b = args
        if a.type == NUM and b.type == NUM:
            return _Expr(f"({a.code} {symbol} {b.code})", BOOL)
        if b.simple and b.type == NUM and a.type == ANY:
            first, later = self.bind(a)
            fast, slow = f"{later} {symbol} {b.code}", f"{helper}({later}, {b.code})"
            return _Expr(f"({fast} if {first}.__class__ in _NUMS else {slow})", BOOL)
        if a.simple and a.type == NUM and b.type == ANY:
            first, later = self.bind(b)
            fast, slow = f"{a.code} {symbol} {later}", f"{helper}({a.code}, {later})"
            return _Expr(f"({fast} if {first}.__class__ in _NUMS else {slow})", BOOL)
        return _Expr(general, BOOL)

    def contains(self, needle: _Expr, haystack: _Expr, source: Node) -> _Expr:
        general = _Expr(f"_in({needle.code}, {haystack.code})", BOOL)
        if isinstance(source, Literal) and isinstance(source.value, tuple) and source.value:
            return self.in_literal(needle, haystack, source.value) or general
        if needle.simple and needle.type == STR and not self.charged:
            if self.constants.get(needle.code) == "":
                return general
            first, later = self.bind(haystack)
            test = f"{first}.__class__ is list or {later}.__class__ is str"
            return _Expr(
                f"({needle.code} in {later} if {test} else _in({needle.code}, {later}))", BOOL
            )
        return general

    def in_literal(self, needle: _Expr, haystack: _Expr, items: tuple[Any, ...]) -> _Expr | None:
        """A needle in a literal array of only strings or only numbers: one set lookup."""
        if all(item.__class__ is str for item in items):
            test = "is str"
        elif all(item.__class__ in NUMBERS and item == item for item in items):
            test = "in _NUMS"
        else:
            return None
        members = self.const(frozenset(items)).code
        first, later = self.bind(needle)
        fallback = f"_in({later}, {haystack.code})"
        return _Expr(f"({later} in {members} if {first}.__class__ {test} else {fallback})", BOOL)

    def and_or(self, node: Op, depth: int) -> _Expr:
        args = [self.expr(arg, depth + 1) for arg in node.args]
        if all(a.type == BOOL for a in args[:-1]):
            joiner = f" {node.op} "
            type_ = BOOL if args[-1].type == BOOL else ANY
            return _Expr(f"({joiner.join(a.code for a in args)})", type_)
        if len(args) > 4:
            return self.call_function_statements(node)
        code = args[-1].code
        for a in reversed(args[:-1]):
            first, later = self.bind(a)
            test = self.truth(_Expr(first, a.type))
            keep = f"not {test}" if node.op == "and" else test
            code = f"({later} if {keep} else {code})"
        return _Expr(code, _common([a.type for a in args]))

    def if_(self, node: Op, depth: int) -> _Expr:
        args = list(node.args)
        if len(args) > 9:
            return self.call_function_statements(node)
        otherwise = self.expr(args[-1], depth + 1) if len(args) % 2 == 1 else self.const(None)
        types = [otherwise.type] if len(args) % 2 == 1 else [ANY]
        code = otherwise.code
        for i in range(len(args) - 2 - len(args) % 2, -1, -2):
            condition = self.truth(self.expr(args[i], depth + 1))
            then = self.expr(args[i + 1], depth + 1)
            types.append(then.type)
            code = f"({then.code} if {condition} else {code})"
        return _Expr(code, _common(types))

    def call_function_statements(self, node: Op) -> _Expr:
        """A long and/or/if as statements in a helper function (no deeply nested expression)."""
        name = self.fresh("_f")
        scope = _Scope()
        self.scopes.append(scope)
        body = self.statements(node)
        self.scopes.pop()
        self.blocks.append("\n".join([f"def {name}(data):", *scope.lines, *body]))
        return _Expr(f"{name}(data)")

    def statements(self, node: Op) -> list[str]:
        lines: list[str] = []
        if node.op in ("and", "or"):
            for arg in node.args[:-1]:
                value = self.expr(arg, 1)
                keep = "not " if node.op == "and" else ""
                lines += [f"    _t = {value.code}", f"    if {keep}_T(_t):", "        return _t"]
            return [*lines, f"    return {self.expr(node.args[-1], 1).code}"]
        args = node.args
        for i in range(0, len(args) - 1, 2):
            condition = self.truth(self.expr(args[i], 1))
            lines += [f"    if {condition}:", f"        return {self.expr(args[i + 1], 1).code}"]
        last = self.expr(args[-1], 1).code if len(args) % 2 == 1 else "None"
        return [*lines, f"    return {last}"]

    def scoped(self, node: Op, depth: int) -> _Expr:
        items = self.expr(node.args[0], depth + 1)
        body, _ = self.function(node.args[1])
        if node.op == "reduce":
            initial = self.expr(node.args[2], depth + 1) if len(node.args) > 2 else self.const(None)
            return _Expr(f"_reduce({items.code}, {body}, {initial.code})")
        type_ = BOOL if node.op in ("all", "some", "none") else ANY
        return _Expr(f"{ITEMS[node.op]}({items.code}, {body})", type_)


def _common(types: list[str]) -> str:
    return types[0] if len(set(types)) == 1 else ANY
