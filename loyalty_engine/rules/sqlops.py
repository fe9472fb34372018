"""Comparison and text operators in SQL, each faithful to JavaScript's rules for its kinds."""

# Each builder takes `Sql` operands of known kinds and gives an `Sql` result, or raises `Refuse`
# when the right answer would depend on something SQL cannot do faithfully (turning text that is
# not a literal into a number, formatting a fractional number as text, dividing by a column).

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from sqlalchemy import and_, case, false, func, literal, true
from sqlalchemy.sql.elements import ColumnElement

from loyalty_engine.rules import operations as ops
from loyalty_engine.rules.coerce import to_number, to_primitive, to_string
from loyalty_engine.rules.sqldialect import binary_order, text_position
from loyalty_engine.rules.sqlnumbers import to_num
from loyalty_engine.rules.sqlvalue import (
    BOOL,
    NAN,
    NOT_NULL,
    NUMBER,
    STRING,
    Refuse,
    Sql,
    as_text,
    bool_number,
    boolean,
    finite,
    kind_of_const,
    make,
    sql_literal,
)

# --- equality and order ---


def equal(a: Sql, b: Sql, *, strict: bool) -> Sql:
    python = ops.strict_eq if strict else ops.loose_eq
    if a.expr is None and b.expr is None:
        return Sql.constant(python(a.const, b.const))
    if a.expr is None:
        a, b = b, a
    if b.expr is None:
        return _equal_constant(a, b.const, strict=strict)
    return _equal_expressions(a, b, strict=strict)


def _equal_constant(a: Sql, constant: Any, *, strict: bool) -> Sql:
    assert a.expr is not None
    if constant is None:
        return boolean(a.expr.is_(None)) if a.null is None else Sql.constant(False)
    if isinstance(constant, tuple):  # a literal array: never the same array; loosely, its text
        return (
            Sql.constant(False)
            if strict
            else _equal_constant(a, to_primitive(constant), strict=False)
        )
    if isinstance(constant, float) and constant != constant:
        return Sql.constant(False)
    if kind_of_const(constant) == a.kind:
        matches = a.expr == sql_literal(finite(constant))
        return boolean(func.coalesce(matches, false()) if a.nullable else matches)
    if strict:
        return Sql.constant(False)
    if a.kind == STRING:
        raise Refuse("comparing text with a number or boolean turns the text into a number")
    number = to_number(constant)
    if number != number:
        return Sql.constant(False)
    if a.kind == BOOL:
        matches = bool_number(a.expr) == literal(finite(number))
        return boolean(and_(a.expr.is_not(None), matches) if a.nullable else matches)
    matches = a.expr == sql_literal(finite(number))
    return boolean(func.coalesce(matches, false()) if a.nullable else matches)


def _equal_expressions(a: Sql, b: Sql, *, strict: bool) -> Sql:
    assert a.expr is not None
    assert b.expr is not None
    if a.kind != b.kind:
        if strict:
            both_null = and_(a.expr.is_(None), b.expr.is_(None))
            return boolean(both_null) if a.null is None and b.null is None else Sql.constant(False)
        if STRING in (a.kind, b.kind):
            raise Refuse("comparing text with a number or boolean turns the text into a number")
        a, b = (_bool_as_number(a), b) if a.kind == BOOL else (a, _bool_as_number(b))
    left, right = a.sql(), b.sql()
    if a.null is NAN or b.null is NAN:
        return boolean(func.coalesce(left == right, false()))
    if not a.nullable and not b.nullable:
        return boolean(left == right)
    return boolean(left.is_not_distinct_from(right))


def _bool_as_number(value: Sql) -> Sql:
    """true/false as 1/0, keeping NULL (null == 0 is false, null == null is true)."""
    assert value.expr is not None
    expr = case((value.expr, literal(1)), (~value.expr, literal(0)))
    return make(expr, NUMBER, value.null, integral=True)


def relate(symbol: str, a: Sql, b: Sql) -> Sql:
    """`<`, `<=`, `>`, `>=`: text with text by code point, anything else as numbers."""
    python = {"<": ops.lt, "<=": ops.le, ">": ops.gt, ">=": ops.ge}[symbol]
    if a.expr is None and b.expr is None:
        return Sql.constant(python(a.const, b.const))
    a, b = _primitive(a), _primitive(b)
    if _is_text(a) and _is_text(b):
        return _relate_text(symbol, a, b, python)
    x, y = to_num(a), to_num(b)
    if (x.expr is None and x.const != x.const) or (y.expr is None and y.const != y.const):
        return Sql.constant(False)
    condition = _compare(x.sql(), symbol, y.sql())
    if x.nullable or y.nullable:
        condition = func.coalesce(condition, false())
    return boolean(condition)


def _relate_text(symbol: str, a: Sql, b: Sql, python: Callable[[Any, Any], bool]) -> Sql:
    if a.expr is not None and b.expr is not None:
        if a.nullable or b.nullable:
            raise Refuse("ordering two texts that may be missing turns text into numbers")
        return boolean(binary_order(a.expr, symbol, b.expr))
    column, constant = (a, b.const) if a.expr is not None else (b, a.const)
    assert column.expr is not None
    ordered = binary_order(a.sql(), symbol, b.sql())
    if not column.nullable:
        return boolean(ordered)
    when_null = python(None, constant) if a.expr is not None else python(constant, None)
    return boolean(case((column.expr.is_(None), literal(when_null)), else_=ordered))


def _primitive(value: Sql) -> Sql:
    return Sql.constant(to_primitive(value.const)) if value.expr is None else value


def _is_text(value: Sql) -> bool:
    return isinstance(value.const, str) if value.expr is None else value.kind == STRING


def _compare(x: ColumnElement[Any], symbol: str, y: ColumnElement[Any]) -> ColumnElement[bool]:
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[symbol]


# --- text ---


def text_of(value: Sql, *, null_text: str = "null") -> Sql:
    """JavaScript's String() (cat reads null as "" instead): text, booleans, whole numbers."""
    if value.expr is None:
        return Sql.constant(
            "" if value.const is None and null_text == "" else to_string(value.const)
        )
    expr = value.expr
    if value.kind == BOOL:
        expr = case((expr, literal("true")), (~expr, literal("false")), else_=literal(null_text))
        return make(expr, STRING, NOT_NULL)
    if value.kind == NUMBER:
        if not value.integral:
            raise Refuse("writing a fractional number as text has no faithful SQL")
        expr = as_text(expr)
    if not value.nullable:
        return make(expr, STRING, NOT_NULL)
    missing_text = "NaN" if value.null is NAN else null_text
    return make(func.coalesce(expr, literal(missing_text)), STRING, NOT_NULL)


def concatenate(values: Sequence[Sql]) -> Sql:
    parts: list[Sql] = []
    for value in values:
        text = text_of(value, null_text="")
        if parts and text.expr is None and parts[-1].expr is None:
            parts[-1] = Sql.constant(parts[-1].const + text.const)
        else:
            parts.append(text)
    if len(parts) == 1 and parts[0].expr is None:
        return parts[0]
    expr = reduce(lambda x, y: x.concat(y), [p.sql() for p in parts]) if parts else literal("")
    return make(expr, STRING, NOT_NULL)


def substring(source: Sql, start: Sql, count: Sql | None) -> Sql:
    """json-logic's substr, with a literal start and length."""
    if start.expr is not None or (count is not None and count.expr is not None):
        raise Refuse("substr translates only with a literal start and length")
    text = text_of(source)
    if text.expr is None:
        args = [start.const] if count is None else [start.const, count.const]
        return Sql.constant(ops.substr(text.const, *args))
    length = func.length(text.expr)
    first = _js_integer(start.const)
    begin: Any = literal(first)
    if first < 0:
        begin = case((length + first > 0, length + first), else_=literal(0))
    if count is None:
        return make(func.substr(text.expr, begin + 1), STRING, NOT_NULL)
    wanted = _js_integer(count.const)
    if to_number(count.const) < 0:
        rest = length - begin + wanted
        size: Any = case((rest > 0, rest), else_=literal(0))
    else:
        size = literal(max(wanted, 0))
    return make(func.substr(text.expr, begin + 1, size), STRING, NOT_NULL)


def _js_integer(value: Any) -> int:
    """ToIntegerOrInfinity, clamped far beyond any text's length (SQL integers are bounded)."""
    number = to_number(value)
    if number != number:
        return 0
    return int(max(-_FAR, min(_FAR, number)))


_FAR = 10**9


def contains(needle: Sql, haystack: Sql) -> Sql:
    """`in`: a needle in a literal array (===), or a substring of text."""
    if needle.expr is None and haystack.expr is None:
        return Sql.constant(ops.contains(needle.const, haystack.const))
    if haystack.expr is None:
        if isinstance(haystack.const, tuple):
            return _member(needle, haystack.const)
        if not isinstance(haystack.const, str) or haystack.const == "":
            return Sql.constant(False)
    elif haystack.kind != STRING:
        return Sql.constant(False)  # numbers and booleans have no indexOf: always false
    text = text_of(needle)
    found = and_(haystack.sql() != literal(""), text_position(haystack.sql(), text.sql()) > 0)
    if haystack.nullable:
        return boolean(func.coalesce(found, false()))
    return boolean(found)


def _member(needle: Sql, items: tuple[Any, ...]) -> Sql:
    assert needle.expr is not None
    members = [
        finite(item)
        for item in items
        if kind_of_const(item) == needle.kind and not (isinstance(item, float) and item != item)
    ]
    found = needle.expr.in_(members) if members else false()
    if not needle.nullable:
        return boolean(found)
    when_null = needle.null is None and any(item is None for item in items)
    return boolean(func.coalesce(found, true() if when_null else false()))
