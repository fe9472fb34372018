"""Segment membership in SQL over the customers table (SQLAlchemy Core): counts and member pages.

A condition becomes a WHERE clause through the rules compiler, with the declared custom traits
and `now` (the caller's clock) as the resolver knows them; nothing loads customers as objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import RowMapping, and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from loyalty_engine.customers.models import Customer
from loyalty_engine.customers.schemas import CustomerRead
from loyalty_engine.customers.service import TYPED_TRAITS
from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor
from loyalty_engine.rules.customer_facts import customer_resolver, epoch_seconds
from loyalty_engine.rules.facts import Kind
from loyalty_engine.rules.fold import fold
from loyalty_engine.rules.nodes import Node, Op
from loyalty_engine.rules.sqlcompile import compile_sql_filter
from loyalty_engine.segments.ranges import instant_range

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]


def membership_filter(
    node: Node, *, now: datetime, custom_traits: Mapping[str, Kind]
) -> ColumnElement[bool]:
    """WHERE clause true exactly for the members (raises ConditionInvalid if it has no SQL).

    Each part of a top-level `and` is translated on its own (a row is a member when every part
    holds); parts that bound an instant trait relative to `now` become ranges on the column.
    """
    resolver = customer_resolver(CUSTOMERS, now=now, custom_traits=custom_traits)
    folded = fold(node)
    parts = folded.args if isinstance(folded, Op) and folded.op == "and" else (folded,)
    now_seconds = epoch_seconds(now)
    clauses = []
    for part in parts:
        clause = instant_range(part, CUSTOMERS, now_seconds=now_seconds)
        clauses.append(clause if clause is not None else compile_sql_filter(part, resolver))
    return clauses[0] if len(clauses) == 1 else and_(*clauses)


def count_where(session: Session, where: ColumnElement[bool]) -> int:
    stmt = select(func.count()).select_from(CUSTOMERS).where(where)
    return int(session.execute(stmt).scalar_one())


def members_where(
    session: Session, where: ColumnElement[bool], *, cursor: str | None, limit: int
) -> tuple[list[CustomerRead], str | None]:
    """A page of members in creation order, and the cursor of the next page."""
    stmt = select(CUSTOMERS).where(where).order_by(CUSTOMERS.c.id).limit(limit + 1)
    if cursor is not None:
        after = cursor_id(decode_cursor(cursor, ("after",)), "after")
        stmt = stmt.where(CUSTOMERS.c.id > after)
    rows = list(session.execute(stmt).mappings())
    page = [_read(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor({"after": rows[limit - 1]["id"]})


def _read(row: RowMapping) -> CustomerRead:
    return CustomerRead(
        id=row["external_id"],
        custom_traits=row["custom_traits"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        **{name: row[name] for name in TYPED_TRAITS},
    )
