"""Compile to SQL: a condition as a SQLAlchemy expression over the facts a resolver provides."""

# `compile_sql` gives the condition's truthiness, for `WHERE` (segment membership over the
# customers table); `compile_sql_value` gives its value, for `SELECT`. Only what translates
# faithfully on both SQLite and PostgreSQL translates: every other part is refused, each with its
# JSON path (`check_sql` lists them all), never translated approximately.

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, false, literal, not_, or_, true
from sqlalchemy.sql.elements import BooleanClauseList, ColumnElement, False_, Grouping
from sqlalchemy.sql.functions import coalesce
from sqlalchemy.sql.operators import and_ as and_op
from sqlalchemy.sql.operators import or_ as or_op

from loyalty_engine.rules import operations as ops
from loyalty_engine.rules import sqlnumbers, sqlops
from loyalty_engine.rules.coerce import to_string, truthy
from loyalty_engine.rules.errors import ConditionInvalid, Problem
from loyalty_engine.rules.evaluate import thaw
from loyalty_engine.rules.fold import fold
from loyalty_engine.rules.nodes import SCOPED, Array, Literal, Node, Op, Var
from loyalty_engine.rules.sqldialect import rendered_size
from loyalty_engine.rules.sqlvalue import (
    BOOL,
    NOT_NULL,
    NUMBER,
    STRING,
    Refuse,
    Resolver,
    Sql,
    boolean,
    choose,
    truth,
)

MAX_SQL_SIZE = 50_000  # elements written out in one condition's SQL
_HINT = "segments run in SQL: compare traits with literals, combine with and/or/!, use in, "
_HINT += "arithmetic, cat, substr or missing"
_LOGICAL = frozenset({"and", "or", "!", "!!", "if", "?:", "missing", "missing_some"})


@dataclass(frozen=True, slots=True)
class SqlExpression:
    """A condition's value in SQL, and how to read a result row's value back as JSON."""

    value: Sql

    def expression(self) -> ColumnElement[Any]:
        return self.value.sql() if not isinstance(self.value.const, tuple) else literal(None)

    def decode(self, raw: Any) -> Any:
        value = self.value
        if value.expr is None:
            return thaw(value.const)
        if raw is None:
            return None if value.null is NOT_NULL else value.null
        if value.kind == BOOL:
            return bool(raw)
        if value.kind == NUMBER:
            return float(raw) if isinstance(raw, Decimal) else raw
        return str(raw)


def compile_sql(node: Node, resolver: Resolver) -> ColumnElement[bool]:
    """Whether the condition holds (its truthiness), as a condition never NULL."""
    translator = _Translator(resolver)
    try:
        return _bounded(translator.truth(fold(node)), node)
    except _Poisoned:
        raise ConditionInvalid(translator.problems) from None


def compile_sql_filter(node: Node, resolver: Resolver) -> ColumnElement[bool]:
    """For WHERE only: true exactly for the rows where the condition holds, and NULL or false
    elsewhere, so never negate it. Drops the COALESCE(..., false) that `compile_sql` keeps at
    the top (under AND/OR, NULL and false exclude a row alike), which lets indexes serve."""
    return _positive(compile_sql(node, resolver))


def _positive(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    if isinstance(condition, Grouping) and isinstance(condition.element, ColumnElement):
        return _positive(condition.element)
    if isinstance(condition, BooleanClauseList) and condition.operator in (and_op, or_op):
        parts = [_positive(part) for part in condition.clauses]
        return and_(*parts) if condition.operator is and_op else or_(*parts)
    if isinstance(condition, coalesce):
        value, otherwise = list(condition.clauses)
        if isinstance(otherwise, False_):
            return _positive(value)
    return condition


def compile_sql_value(node: Node, resolver: Resolver) -> SqlExpression:
    """The condition's value; refused where the value is an array (SQL has no JSON arrays)."""
    translator = _Translator(resolver)
    try:
        value = translator.value(fold(node))
    except _Poisoned:
        raise ConditionInvalid(translator.problems) from None
    if value.expr is None and isinstance(value.const, tuple):
        problem = Problem(node.path, "the condition gives an array, which SQL cannot select", "sql")
        raise ConditionInvalid([problem])
    if value.expr is not None:
        _bounded(value.expr, node)
    return SqlExpression(value)


def _bounded(expression: ColumnElement[Any], node: Node) -> ColumnElement[Any]:
    """Refuse SQL that would write itself out too large: JavaScript's `a or b` gives a, and
    SQL can only say so with CASE WHEN a THEN a, so nested values can double at every level."""
    size = rendered_size(expression, MAX_SQL_SIZE)
    if size > MAX_SQL_SIZE:
        message = f"the SQL for this condition would be larger than {MAX_SQL_SIZE} parts"
        raise ConditionInvalid([Problem(node.path, message, "sql", _HINT)])
    return expression


def check_sql(node: Node, resolver: Resolver) -> list[Problem]:
    """Every part of the condition that has no faithful SQL translation."""
    try:
        compile_sql(node, resolver)
    except ConditionInvalid as invalid:
        return list(invalid.problems)
    return []


class _Poisoned(Exception):
    """A part below was refused (and reported); its parents are not translated."""


class _Translator:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.problems: list[Problem] = []

    def refuse(self, node: Node, message: str, type_: str = "sql") -> _Poisoned:
        self.problems.append(Problem(node.path, message, type_, _HINT))
        return _Poisoned()

    def value(self, node: Node) -> Sql:
        try:
            return self._value(node)
        except Refuse as refused:
            raise self.refuse(node, str(refused), refused.type) from None

    def values(self, nodes: Sequence[Node]) -> list[Sql]:
        """Every operand translated, so that every refusal among them is reported."""
        results: list[Sql | None] = []
        for node in nodes:
            try:
                results.append(self.value(node))
            except _Poisoned:
                results.append(None)
        if any(result is None for result in results):
            raise _Poisoned
        return [result for result in results if result is not None]

    def _value(self, node: Node) -> Sql:
        if isinstance(node, Literal):
            return Sql.constant(node.value)
        if isinstance(node, Var):
            return self.var(node)
        if isinstance(node, Array):
            with suppress(_Poisoned):
                self.values(node.items)
            raise Refuse("an array built from facts has no SQL form")
        return self.operation(node)

    def operation(self, node: Op) -> Sql:
        op = node.op
        if op in SCOPED or op in ("merge", "var", "missing", "missing_some"):
            return self.untranslatable(node)
        if op in ("and", "or"):
            return self.and_or(node)
        if op in ("if", "?:"):
            return self.if_value(node)
        if op in ("!", "!!"):
            return boolean(self.truth(node))
        args = self.values(node.args)
        if op in ("==", "===", "!=", "!=="):
            equal = sqlops.equal(args[0], args[1], strict=op in ("===", "!=="))
            return equal if op in ("==", "===") else _negate(equal)
        if op in ("<", "<=", ">", ">="):
            pairs = [sqlops.relate(op, a, b) for a, b in pairwise(args)]
            return pairs[0] if len(pairs) == 1 else _all(pairs)
        return _BUILDERS[op](args)

    def untranslatable(self, node: Op) -> Sql:
        outer = node.args[:1] + node.args[2:] if node.op in SCOPED else node.args
        with suppress(_Poisoned):  # their refusals are reported; this one is reported too
            self.values(outer)
        if node.op == "var":
            raise Refuse("the fact to read is computed: SQL needs its name")
        if node.op in ("missing", "missing_some"):
            raise Refuse(f"'{node.op}' gives a list; in SQL use it as a condition (if, !, and)")
        raise Refuse(f"'{node.op}' works on arrays, which have no SQL form here")

    def var(self, node: Var) -> Sql:
        fact = self.resolver(node.name)
        if fact is None:
            raise Refuse(f"{node.name or 'the whole data'} cannot be read in SQL", "sql_fact")
        value = fact.value()
        if node.default is None or not value.nullable:
            return value
        default = self.value(node.default)
        if default.expr is None and default.const is None:
            return value
        return choose([(value.sql().is_not(None), value.non_null())], default)

    # --- truthiness: where only whether it holds matters ---

    def truth(self, node: Node) -> ColumnElement[bool]:
        if not isinstance(node, Op) or node.op not in _LOGICAL:
            return truth(self.value(node))
        if node.op in ("missing", "missing_some"):
            try:
                return self.missing(node)
            except Refuse as refused:
                raise self.refuse(node, str(refused), refused.type) from None
        conditions = self.truths(node.args)
        if node.op in ("and", "or"):
            return and_(*conditions) if node.op == "and" else or_(*conditions)
        if node.op in ("!", "!!"):
            return not_(conditions[0]) if node.op == "!" else conditions[0]
        whens = [(conditions[i], conditions[i + 1]) for i in range(0, len(node.args) - 1, 2)]
        otherwise = conditions[-1] if len(node.args) % 2 == 1 else false()
        return case(*whens, else_=otherwise) if whens else otherwise

    def truths(self, nodes: Sequence[Node]) -> list[ColumnElement[bool]]:
        results: list[ColumnElement[bool] | None] = []
        for node in nodes:
            try:
                results.append(self.truth(node))
            except _Poisoned:
                results.append(None)
        if any(result is None for result in results):
            raise _Poisoned
        return [result for result in results if result is not None]

    def missing(self, node: Op) -> ColumnElement[bool]:
        names = node.args if node.op == "missing" else node.args[1:]
        keys = _literal_keys(names)
        absent = [self.absent(key) for key in keys]
        if node.op == "missing":
            return or_(*absent) if absent else false()
        need = node.args[0]
        if not isinstance(need, Literal):
            raise Refuse("missing_some translates only with a literal count")
        count = sum((case((a, literal(1)), else_=literal(0)) for a in absent), literal(0))
        total = len(keys)
        holds = [m for m in range(1, total + 1) if not ops.ge(total - m, need.value)]
        return count.in_(holds) if holds else false()

    def absent(self, key: str) -> ColumnElement[bool]:
        fact = self.resolver(key)
        if fact is None:
            raise Refuse(f"{key} cannot be read in SQL", "sql_fact")
        value = fact.value()
        if value.expr is None:
            return true() if value.const is None or value.const == "" else false()
        if value.kind == STRING:
            return or_(value.expr.is_(None), value.expr == literal(""))
        return value.expr.is_(None) if value.nullable else false()

    # --- values that pick one operand ---

    def and_or(self, node: Op) -> Sql:
        values = self.values(node.args)
        whens: list[tuple[ColumnElement[bool], Sql]] = []
        for value in values[:-1]:
            if value.expr is None:
                if truthy(value.const) == (node.op == "and"):
                    continue  # a truthy operand of `and` (falsy of `or`) just passes on
                return choose(whens, value)
            holds = truth(value)
            whens.append((not_(holds) if node.op == "and" else holds, value))
        return choose(whens, values[-1])

    def if_value(self, node: Op) -> Sql:
        """Conditions as truths (a `missing` may be one), the branches as values."""
        args = node.args
        pairs = len(args) // 2
        conditions = [args[2 * i] for i in range(pairs)]
        branches = [args[2 * i + 1] for i in range(pairs)] + list(args[2 * pairs :])
        try:
            truths = self.truths([c for c in conditions if not isinstance(c, Literal)])
        except _Poisoned:
            self.values(branches)
            raise
        values = self.values(branches)
        whens: list[tuple[ColumnElement[bool], Sql]] = []
        for i, condition in enumerate(conditions):
            if isinstance(condition, Literal):
                if truthy(condition.value):
                    return choose(whens, values[i])
                continue
            whens.append((truths.pop(0), values[i]))
        otherwise = values[-1] if len(args) % 2 == 1 else Sql.constant(None)
        return choose(whens, otherwise)


def _literal_keys(names: Sequence[Node]) -> list[str]:
    if names and isinstance(names[0], Literal) and isinstance(names[0].value, tuple):
        names = [Literal(item, names[0].path) for item in names[0].value]
    elif names and isinstance(names[0], Array):
        names = list(names[0].items)
    keys = []
    for name in names:
        if not isinstance(name, Literal) or isinstance(name.value, tuple):
            raise Refuse("missing translates only with literal fact names")
        keys.append(to_string(name.value))
    return keys


def _negate(value: Sql) -> Sql:
    if value.expr is None:
        return Sql.constant(not value.const)
    return boolean(not_(value.expr))


def _all(pairs: list[Sql]) -> Sql:
    if any(p.expr is None and not p.const for p in pairs):
        return Sql.constant(False)
    conditions = [p.expr for p in pairs if p.expr is not None]
    return boolean(and_(*conditions)) if conditions else Sql.constant(True)


def _minus(args: list[Sql]) -> Sql:
    return sqlnumbers.negate(args[0]) if len(args) == 1 else sqlnumbers.arithmetic("-", args)


_BUILDERS: dict[str, Callable[[list[Sql]], Sql]] = {
    "in": lambda args: sqlops.contains(args[0], args[1]),
    "cat": sqlops.concatenate,
    "substr": lambda args: sqlops.substring(args[0], args[1], args[2] if len(args) > 2 else None),
    "+": lambda args: sqlnumbers.arithmetic("+", args),
    "*": lambda args: sqlnumbers.arithmetic("*", args),
    "-": _minus,
    "/": lambda args: sqlnumbers.divide(args[0], args[1]),
    "%": lambda args: sqlnumbers.modulo(args[0], args[1]),
    "min": lambda args: sqlnumbers.extreme("min", args),
    "max": lambda args: sqlnumbers.extreme("max", args),
}
