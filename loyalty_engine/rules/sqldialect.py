"""The few SQL constructs that SQLite and PostgreSQL spell differently, compiled per dialect."""

# JSON values by type (json_type / jsonb_typeof), instants as epoch seconds, GREATEST that gives
# NULL when any argument is NULL, substring search, and text order by code point.

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, and_, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.expression import FunctionElement

from loyalty_engine.rules.sqlvalue import BOOL, NUMBER, STRING


class json_scalar(FunctionElement[Any]):
    """The JSON value at `segments` inside `column` if it has `kind`, else NULL. An integral
    number is one written without a fraction, of at most 15 digits (exact as a double)."""

    inherit_cache = False

    def __init__(
        self,
        column: ColumnElement[Any],
        segments: tuple[str | int, ...],
        kind: str,
        *,
        integral: bool = False,
    ) -> None:
        for segment in segments:
            if isinstance(segment, str) and ('"' in segment or "\\" in segment):
                raise ValueError(f"no JSON path for the key {segment!r}")
        self.column, self.segments, self.kind = column, segments, kind
        self.integral = integral and kind == NUMBER
        super().__init__()
        types: dict[str, Any] = {BOOL: Boolean(), NUMBER: Float(), STRING: String()}
        self.type = BigInteger() if self.integral else types[kind]


INTEGRAL_DIGITS = 15


@compiles(json_scalar, "sqlite")
def _json_scalar_sqlite(element: json_scalar, compiler: SQLCompiler, **kw: Any) -> str:
    path = "$" + "".join(f"[{s}]" if isinstance(s, int) else f'."{s}"' for s in element.segments)
    at = literal(path, String())
    found = func.json_type(element.column, at)
    value = func.json_extract(element.column, at)
    expression: ColumnElement[Any]
    if element.kind == BOOL:
        expression = case((found == "true", literal(1)), (found == "false", literal(0)))
    elif element.integral:
        small = func.abs(value) < literal(10**INTEGRAL_DIGITS)
        expression = case((and_(found == "integer", small), value))
    else:
        types = ["integer", "real"] if element.kind == NUMBER else ["text"]
        expression = case((found.in_(types), value))
    return compiler.process(expression, **kw)


@compiles(json_scalar, "postgresql")
def _json_scalar_pg(element: json_scalar, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.column, **kw)
    for segment in element.segments:
        key = literal(segment, Integer() if isinstance(segment, int) else String())
        value = f"({value} -> {compiler.process(key, **kw)})"
    wanted, sql_type = {
        BOOL: ("boolean", "BOOLEAN"),
        NUMBER: ("number", "DOUBLE PRECISION"),
        STRING: ("string", "TEXT"),
    }[element.kind]
    text = f"({value} #>> '{{}}')"
    test = f"jsonb_typeof({value}) = '{wanted}'"
    if element.integral:
        sql_type = "BIGINT"
        test += f" AND {text} ~ '^-?[0-9]{{1,{INTEGRAL_DIGITS}}}$'"
    return f"CASE WHEN {test} THEN CAST({text} AS {sql_type}) END"


class epoch_of(FunctionElement[Any]):
    """A timestamp or date column as whole seconds since 1970-01-01 UTC (floor)."""

    inherit_cache = True
    type = BigInteger()


@compiles(epoch_of, "sqlite")
def _epoch_sqlite(element: epoch_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_of, "postgresql")
def _epoch_pg(element: epoch_of, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"


class greatest(FunctionElement[Any]):
    """The largest argument, or NULL if any is NULL (NaN wins in JavaScript's Math.max)."""

    inherit_cache = True
    type = Float()


class least(FunctionElement[Any]):
    inherit_cache = True
    type = Float()


@compiles(greatest, "sqlite")
@compiles(least, "sqlite")
def _extreme_sqlite(element: greatest | least, compiler: SQLCompiler, **kw: Any) -> str:
    name = "max" if isinstance(element, greatest) else "min"  # scalar max(): NULL if any is
    return f"{name}({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
@compiles(least, "postgresql")
def _extreme_pg(element: greatest | least, compiler: SQLCompiler, **kw: Any) -> str:
    name = "GREATEST" if isinstance(element, greatest) else "LEAST"  # these skip NULLs
    args = [compiler.process(arg, **kw) for arg in element.clauses]
    any_null = " OR ".join(f"({arg}) IS NULL" for arg in args)
    return f"CASE WHEN {any_null} THEN NULL ELSE {name}({', '.join(args)}) END"


class text_position(FunctionElement[Any]):
    """Where the second text starts in the first, from 1; 0 if absent ('' is found at 1)."""

    inherit_cache = True
    type = BigInteger()


@compiles(text_position, "sqlite")
def _position_sqlite(element: text_position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(text_position, "postgresql")
def _position_pg(element: text_position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


class binary_order(ColumnElement[bool]):
    """`a < b` on text by code point: SQLite's BINARY collation, PostgreSQL's "C"."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, left: ColumnElement[Any], operator: str, right: ColumnElement[Any]):
        if operator not in ("<", "<=", ">", ">="):
            raise ValueError(operator)
        self.left, self.operator, self.right = left, operator, right

    def get_children(self, **kw: Any) -> list[ColumnElement[Any]]:
        return [self.left, self.right]


@compiles(binary_order)
def _order_default(element: binary_order, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = compiler.process(element.left, **kw), compiler.process(element.right, **kw)
    return f"({left} {element.operator} {right})"


@compiles(binary_order, "postgresql")
def _order_pg(element: binary_order, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = compiler.process(element.left, **kw), compiler.process(element.right, **kw)
    return f'(({left}) COLLATE "C" {element.operator} ({right}) COLLATE "C")'


def rendered_size(element: ClauseElement, limit: int) -> int:
    """How many elements the SQL of `element` writes out (a part shared by several parents is
    written once for each; PostgreSQL's GREATEST writes its arguments twice), up to `limit`+1.
    Counted over the shared structure, so it takes time linear in the structure, not the text."""
    sizes: dict[int, int] = {}
    stack: list[tuple[ClauseElement, bool]] = [(element, False)]
    while stack:
        part, counted_children = stack.pop()
        if id(part) in sizes:
            continue
        children = list(part.get_children())
        if not counted_children:
            stack.append((part, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        factor = 2 if isinstance(part, (greatest, least)) else 1
        total = 1 + factor * sum(sizes[id(child)] for child in children)
        sizes[id(part)] = min(total, limit + 1)
    return sizes[id(element)]
