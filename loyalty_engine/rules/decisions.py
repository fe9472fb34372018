"""Reading decisions: "why did this customer get this?" answered from data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.events.models import Event
from loyalty_engine.pagination import cursor_id, decode_cursor, encode_cursor
from loyalty_engine.rules.models import Decision, Rule, RuleVersion

DECISIONS = Decision.__table__  # type: ignore[attr-defined]
RULES = Rule.__table__  # type: ignore[attr-defined]
VERSIONS = RuleVersion.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]


def customer_decisions(
    session: Session, *, customer_id: int, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, each with its rule key, version and event type."""
    stmt = (
        select(
            DECISIONS,
            RULES.c.key.label("rule"),
            VERSIONS.c.version.label("rule_version"),
            EVENTS.c.type.label("event_type"),
        )
        .join(RULES, RULES.c.id == DECISIONS.c.rule_id)
        .join(VERSIONS, VERSIONS.c.id == DECISIONS.c.rule_version_id)
        .join(EVENTS, EVENTS.c.id == DECISIONS.c.event_id)
        .where(DECISIONS.c.customer_id == customer_id)
        .order_by(DECISIONS.c.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        stmt = stmt.where(DECISIONS.c.id < cursor_id(decode_cursor(cursor, ("before",)), "before"))
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor({"before": rows[limit - 1]["id"]})
