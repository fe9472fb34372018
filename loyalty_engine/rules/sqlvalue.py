"""JSON Logic values in SQL: an expression of one known kind, and what its NULL stands for."""

# Facts reach the translator through a resolver, which gives each fact name its expression and
# kind. `choose` builds CASE over values that must share one kind (one SQL column type).

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, String, case, cast, false, func, literal, true
from sqlalchemy.sql.elements import ColumnElement, Grouping

from loyalty_engine.rules.coerce import truthy

BOOL, NUMBER, STRING = "boolean", "number", "string"


class _NotNull:
    def __repr__(self) -> str:
        return "NOT_NULL"


NOT_NULL: Any = _NotNull()
NAN = math.nan


@dataclass(frozen=True, slots=True)
class Sql:
    """A constant (`expr` is None), or an SQL expression of `kind` whose NULL means `null`:
    JSON null (None), NaN (for numbers), or nothing (NOT_NULL: it is never NULL)."""

    expr: ColumnElement[Any] | None
    const: Any = None
    kind: str = ""
    null: Any = NOT_NULL
    integral: bool = False  # a number that is always an integer (for `%` and for text)

    @staticmethod
    def constant(value: Any) -> Sql:
        return Sql(None, value)

    @property
    def is_const(self) -> bool:
        return self.expr is None

    @property
    def nullable(self) -> bool:
        return self.expr is not None and self.null is not NOT_NULL

    def non_null(self) -> Sql:
        return replace(self, null=NOT_NULL)

    def sql(self) -> ColumnElement[Any]:
        """The expression, or the constant as a typed literal."""
        return self.expr if self.expr is not None else sql_literal(self.const)


@dataclass(frozen=True, slots=True)
class SqlFact:
    """What a resolver says about a fact: its expression and kind; SQL NULL means the fact is
    missing. Or a constant (`now`). `kind` is boolean, number or string."""

    expr: ColumnElement[Any] | None
    kind: str = ""
    integral: bool = False
    nullable: bool = True
    const: Any = None

    @staticmethod
    def constant(value: Any) -> SqlFact:
        return SqlFact(None, const=value)

    def value(self) -> Sql:
        if self.expr is None:
            return Sql.constant(self.const)
        null = None if self.nullable else NOT_NULL
        return Sql(self.expr, None, self.kind, null, self.integral)


Resolver = Callable[[str], SqlFact | None]


def kind_of_const(value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    return STRING if isinstance(value, str) else None


def sql_literal(value: Any) -> ColumnElement[Any]:
    type_: Any
    if isinstance(value, bool):
        type_ = Boolean()
    elif isinstance(value, int):
        type_ = BigInteger()
    elif isinstance(value, float):
        type_ = Float()
    elif isinstance(value, str):
        type_ = String()
    elif value is None:
        return literal(None)
    else:
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    return literal(value, type_)


def as_float(value: Sql) -> ColumnElement[Any]:
    """A number as double precision: JavaScript's arithmetic, with no integer overflow."""
    if value.expr is None:
        return literal(float(value.const), Float())
    return cast(value.expr, Float())


def as_text(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(value, String())


def bool_number(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """true/false as 1/0 (NULL as 0): JavaScript's Number(boolean)."""
    return case((value, literal(1, BigInteger())), else_=literal(0, BigInteger()))


# --- building values ---


class Refuse(Exception):
    """No faithful SQL for this operator on these operands (the message says why)."""

    def __init__(self, message: str, type_: str = "sql") -> None:
        super().__init__(message)
        self.type = type_  # "sql_fact" when the refusal is a fact SQL cannot read


def boolean(condition: ColumnElement[Any]) -> Sql:
    """A condition that is never NULL, as a boolean value."""
    return make(condition, BOOL, NOT_NULL)


def make(expr: ColumnElement[Any], kind: str, null: Any, *, integral: bool = False) -> Sql:
    """A computed value, in parentheses: SQLAlchemy would write `NOT a IS NOT DISTINCT FROM b`
    for (NOT a) IS ..., which PostgreSQL reads as NOT (a IS ...)."""
    return Sql(Grouping(expr), None, kind, null, integral)


def truth(value: Sql) -> ColumnElement[bool]:
    """JSON Logic truthiness as a condition that is never NULL."""
    if value.expr is None:
        return true() if truthy(value.const) else false()
    if value.kind == BOOL:
        return func.coalesce(value.expr, false()) if value.nullable else value.expr
    zero = literal(0) if value.kind == NUMBER else literal("")
    return func.coalesce(value.expr != zero, false())


def finite(number: Any) -> Any:
    if isinstance(number, float) and math.isinf(number):
        raise Refuse("infinite numbers have no faithful SQL")
    return number


def choose(whens: Sequence[tuple[ColumnElement[bool], Sql]], otherwise: Sql) -> Sql:
    """CASE WHEN ... THEN ... ELSE ... END over values that must share one kind."""
    if not whens:
        return otherwise
    values = [value for _, value in whens] + [otherwise]
    kinds: set[str | None] = {v.kind for v in values if v.expr is not None}
    kinds |= {kind_of_const(v.const) for v in values if v.expr is None and not _is_null(v.const)}
    kinds.discard(None)
    nulls = {v.null for v in values if v.expr is not None and v.nullable}
    nulls |= {_null_meaning(v.const) for v in values if v.expr is None and _is_null(v.const)}
    if len(kinds) > 1 or any(isinstance(v.const, tuple) for v in values if v.expr is None):
        raise Refuse("the branches give different kinds of value, which one SQL column cannot hold")
    if len(nulls) > 1:
        raise Refuse("the branches give both null and NaN, which SQL cannot tell apart")
    if not kinds:
        return (
            Sql.constant(values[0].const)
            if len({repr(v.const) for v in values}) == 1
            else _refuse_mixed()
        )
    kind = str(kinds.pop())
    integral = all(
        v.integral if v.expr is not None else not isinstance(v.const, float) for v in values
    )
    expr = case(*((condition, _sql(v)) for condition, v in whens), else_=_sql(otherwise))
    return make(expr, kind, nulls.pop() if nulls else NOT_NULL, integral=integral)


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _null_meaning(value: Any) -> Any:
    return None if value is None else NAN


def _sql(value: Sql) -> ColumnElement[Any]:
    if value.expr is None and _is_null(value.const):
        return literal(None)
    return value.sql()


def _refuse_mixed() -> Sql:
    raise Refuse("the branches give both null and NaN, which SQL cannot tell apart")
