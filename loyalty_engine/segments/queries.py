"""Selects several services share: declared trait kinds, live segments, facts a condition reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.rules.facts import Kind
from loyalty_engine.rules.nodes import Array, Literal, Node, Op, Var, walk
from loyalty_engine.segments.models import CustomTraitDeclaration, Segment

DECLARATIONS = CustomTraitDeclaration.__table__  # type: ignore[attr-defined]
SEGMENTS = Segment.__table__  # type: ignore[attr-defined]


def declared_kinds(session: Session, *, share_lock: bool = False) -> dict[str, Kind]:
    """Every declared custom trait and its kind. With `share_lock` (PostgreSQL), a concurrent
    change of kind waits until this transaction ends: a segment saved now cannot be checked
    against a kind that is changing under it."""
    stmt = select(DECLARATIONS.c.name, DECLARATIONS.c.kind).order_by(DECLARATIONS.c.name)
    if share_lock:
        stmt = stmt.with_for_update(read=True)
    return {str(name): Kind(kind) for name, kind in session.execute(stmt)}


def live_segments(session: Session) -> list[tuple[str, Any]]:
    """(key, condition) of every segment not archived, by key."""
    stmt = (
        select(SEGMENTS.c.key, SEGMENTS.c.condition)
        .where(SEGMENTS.c.archived_at.is_(None))
        .order_by(SEGMENTS.c.key)
    )
    return [(str(key), condition) for key, condition in session.execute(stmt)]


def segment_keys(session: Session) -> dict[str, bool]:
    """Every segment's key and whether it is archived."""
    stmt = select(SEGMENTS.c.key, SEGMENTS.c.archived_at.is_not(None))
    return {str(key): bool(archived) for key, archived in session.execute(stmt)}


def custom_traits_read(node: Node) -> set[str]:
    """The custom traits a parsed condition reads (`customer.custom.<name>`), by `var` or by
    `missing`/`missing_some`."""
    names: set[str] = set()
    for part in walk(node):
        if isinstance(part, Var):
            names.update(_custom_name(part.name))
        elif isinstance(part, Op) and part.op in ("missing", "missing_some"):
            for arg in part.args:
                for item in arg.items if isinstance(arg, Array) else (arg,):
                    if isinstance(item, Literal):
                        names.update(_names_in(item.value))
    return names


def _names_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return _custom_name(value)
    if isinstance(value, tuple):
        return {name for item in value for name in _names_in(item)}
    return set()


def _custom_name(fact: str) -> set[str]:
    parts = fact.split(".")
    return {parts[2]} if len(parts) >= 3 and parts[:2] == ["customer", "custom"] else set()
