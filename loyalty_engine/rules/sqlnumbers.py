"""Numbers in SQL: JavaScript's Number() and parseFloat() on typed operands, and arithmetic in
double precision (as JavaScript numbers are), with `%` only on whole numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from sqlalchemy import func, literal

from loyalty_engine.rules import operations as ops
from loyalty_engine.rules.coerce import parse_float, to_number
from loyalty_engine.rules.sqldialect import greatest, least
from loyalty_engine.rules.sqlvalue import (
    BOOL,
    NAN,
    NOT_NULL,
    NUMBER,
    Refuse,
    Sql,
    as_float,
    bool_number,
    finite,
    make,
    sql_literal,
)


def to_num(value: Sql) -> Sql:
    """JavaScript's Number(): null is 0, booleans 0/1; text only if it is a literal."""
    if value.expr is None:
        return Sql.constant(finite(to_number(value.const)))
    if value.kind == NUMBER:
        if value.null is None:
            coalesced = func.coalesce(value.expr, literal(0))
            return make(coalesced, NUMBER, NOT_NULL, integral=value.integral)
        return value
    if value.kind == BOOL:
        return make(bool_number(value.expr), NUMBER, NOT_NULL, integral=True)
    raise Refuse("turning text into a number has no faithful SQL; compare it with text")


def parse_num(value: Sql) -> Sql:
    """JavaScript's parseFloat(), for `+` and `*`: null and booleans are NaN."""
    if value.expr is None:
        return Sql.constant(finite(parse_float(value.const)))
    if value.kind == NUMBER:
        return value if value.null is NOT_NULL else make(value.expr, NUMBER, NAN)
    if value.kind == BOOL:
        return Sql.constant(NAN)
    raise Refuse("reading a number out of text has no faithful SQL")


def _nan_if_any(values: Sequence[Sql]) -> Any:
    return NAN if any(v.nullable for v in values) else NOT_NULL


def arithmetic(op: str, values: Sequence[Sql]) -> Sql:
    """`+` and `*` (n operands, parseFloat) and binary `-` (Number), in double precision."""
    numbers = [parse_num(v) if op in ("+", "*") else to_num(v) for v in values]
    if any(n.expr is None and n.const != n.const for n in numbers):
        return Sql.constant(NAN)
    if all(n.expr is None for n in numbers):
        python = {"+": ops.add, "*": ops.mul, "-": ops.sub}[op]
        return Sql.constant(python(*(n.const for n in numbers)))
    combine: Callable[[Any, Any], Any] = {
        "+": lambda x, y: x + y,
        "*": lambda x, y: x * y,
        "-": lambda x, y: x - y,
    }[op]
    expr = reduce(combine, [as_float(n) for n in numbers])
    return make(expr, NUMBER, _nan_if_any(numbers))


def negate(value: Sql) -> Sql:
    number = to_num(value)
    if number.expr is None:
        return Sql.constant(ops.sub(number.const))
    return make(-number.expr, NUMBER, number.null, integral=number.integral)


def divide(a: Sql, b: Sql) -> Sql:
    x, y = to_num(a), to_num(b)
    if y.expr is not None or y.const == 0 or y.const != y.const:
        raise Refuse("'/' translates only with a literal divisor other than zero")
    if x.expr is None:
        return Sql.constant(ops.div(x.const, y.const))
    return make(as_float(x) / literal(float(y.const)), NUMBER, x.null)


def modulo(a: Sql, b: Sql) -> Sql:
    x, y = to_num(a), to_num(b)
    if y.expr is not None or not isinstance(y.const, int) or y.const == 0:
        raise Refuse("'%' translates only with a literal whole divisor other than zero")
    if x.expr is None:
        return Sql.constant(ops.mod(x.const, y.const))
    if not x.integral:
        raise Refuse("'%' translates only on whole numbers (integer traits, instants)")
    return make(x.expr % sql_literal(y.const), NUMBER, x.null, integral=True)


def extreme(op: str, values: Sequence[Sql]) -> Sql:
    """min / max: Number() of each operand; NaN if any is NaN."""
    numbers = [to_num(v) for v in values]
    if any(n.expr is None and n.const != n.const for n in numbers):
        return Sql.constant(NAN)
    if all(n.expr is None for n in numbers):
        return Sql.constant(
            (ops.minimum if op == "min" else ops.maximum)(*(n.const for n in numbers))
        )
    if len(numbers) == 1:
        return numbers[0]
    construct = least if op == "min" else greatest
    expr = construct(*(n.sql() for n in numbers))
    integral = all(n.integral if n.expr is not None else isinstance(n.const, int) for n in numbers)
    return make(expr, NUMBER, _nan_if_any(numbers), integral=integral)
