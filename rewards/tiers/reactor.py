"""Tiers follow the events: after the rules have granted what an event earns, each customer of
the batch is measured again; an upgrade applies at once and emits `tier_changed`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from loyalty_engine.rules.engine import MAX_EMIT_DEPTH, Emitter
from rewards.tiers.service import Change, TierCatalog, evaluate

TIER_CHANGED = "tier_changed"


@dataclass
class TierReactor:
    catalog: TierCatalog
    emit: Emitter | None = None
    name: str = "tiers"

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        program = self.catalog.program(session)
        if program is None:
            return
        externals = {e.customer_id: e.customer_external_id for e in events}
        changes = evaluate(session, program=program, customer_ids=list(externals), now=ctx.now)
        if changes and self.emit is not None and ctx.depth < MAX_EMIT_DEPTH:
            self.emit(
                session, [announcement(c, externals[c.customer_id]) for c in changes], ctx.depth + 1
            )


def announcement(change: Change, external_id: str) -> tuple[str, str, dict[str, Any], str]:
    """The `tier_changed` event of a change: (type, customer, properties, idempotency key)."""
    properties = {
        "from": change.from_tier,
        "to": change.to_tier,
        "direction": change.move.value,
        "basis_value": change.basis_value,
    }
    return TIER_CHANGED, external_id, properties, f"tier-change:{change.id}"
