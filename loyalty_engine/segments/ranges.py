"""Instant traits bounded relative to `now`, as a range on the column itself (pure).

The general SQL translation reads an instant as epoch seconds computed for every row
(`strftime`, `EXTRACT`), which no index serves and which costs more than the rest of a typical
segment. The commonest shapes (`now - customer.subscription_started_at < 365 * 86400`,
`customer.renewal_on - now <= 30 * 86400`, `customer.signup_at >= 1700000000`) bound an integer:
with `now` fixed for the count they become `column >= instant` or `column < instant`, exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Table, or_
from sqlalchemy.sql.elements import ColumnElement

from loyalty_engine.rules.facts import CUSTOMER_TRAITS, Kind
from loyalty_engine.rules.nodes import Literal, Node, Op, Var

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400


def instant_range(node: Node, customers: Table, *, now_seconds: int) -> ColumnElement[bool] | None:
    """`node` as a range on an instant column, or None when it is not such a bound.

    A comparison of a whole-number literal with an instant trait, `now - trait` or
    `trait - now`. A missing instant reads as 0 (1970), as it does in arithmetic and comparisons,
    so a customer without one is in the range when 0 is.
    """
    if not (isinstance(node, Op) and node.op in _FLIP and len(node.args) == 2):
        return None
    left, right, op = node.args[0], node.args[1], node.op
    if isinstance(left, Literal):
        left, right, op = right, left, _FLIP[op]
    bound = _whole(right)
    linear = _linear(left, now_seconds)
    if bound is None or linear is None:
        return None
    trait, sign, offset = linear
    # sign * x + offset OP bound  <=>  x OP' c
    if sign < 0:
        op, limit = _FLIP[op], offset - bound
    else:
        limit = bound - offset
    lowest = {">": limit + 1, ">=": limit}.get(op)
    highest = {"<": limit - 1, "<=": limit}.get(op)
    column = customers.c[trait]
    try:
        clause = _at_least(column, lowest) if lowest is not None else _at_most(column, highest)
    except (OverflowError, ValueError):  # beyond the calendar: leave it to the general path
        return None
    # A missing instant reads as 0: is 0 within the bound?
    missing_holds = lowest <= 0 if lowest is not None else (highest or 0) >= 0
    return or_(clause, column.is_(None)) if missing_holds else clause


def _linear(node: Node, now_seconds: int) -> tuple[str, int, int] | None:
    """`node` as (instant trait, sign, offset): node = sign * trait + offset."""
    trait = _instant(node)
    if trait is not None:
        return trait, 1, 0
    if not (isinstance(node, Op) and node.op == "-" and len(node.args) == 2):
        return None
    first, second = node.args
    if _is_now(first) and (trait := _instant(second)) is not None:
        return trait, -1, now_seconds
    if _is_now(second) and (trait := _instant(first)) is not None:
        return trait, 1, -now_seconds
    return None


def _instant(node: Node) -> str | None:
    if not isinstance(node, Var) or node.default is not None or len(node.segments) != 2:
        return None
    head, trait = node.segments
    return trait if head == "customer" and CUSTOMER_TRAITS.get(trait) == Kind.INSTANT else None


def _is_now(node: Node) -> bool:
    return isinstance(node, Var) and node.segments == ("now",) and node.default is None


def _whole(node: Node) -> int | None:
    value: Any = node.value if isinstance(node, Literal) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _at_least(column: Any, seconds: int) -> ColumnElement[bool]:
    """epoch(column) >= seconds: an instant from that second on; a date from that day on."""
    if isinstance(column.type, Date):
        return column >= _day(-(-seconds // _DAY))  # type: ignore[no-any-return]
    return column >= _EPOCH + timedelta(seconds=seconds)  # type: ignore[no-any-return]


def _at_most(column: Any, seconds: int | None) -> ColumnElement[bool]:
    """epoch(column) <= seconds: an instant before the next second; a date up to that day."""
    assert seconds is not None
    if isinstance(column.type, Date):
        return column <= _day(seconds // _DAY)  # type: ignore[no-any-return]
    return column < _EPOCH + timedelta(seconds=seconds + 1)  # type: ignore[no-any-return]


def _day(days: int) -> date:
    return (_EPOCH + timedelta(days=days)).date()
