"""Actions the engine itself provides: `emit_event` (a follow-up event through ingest)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loyalty_engine.events.schemas import EventType
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.engine import MAX_EMIT_DEPTH


class EmitEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventType
    properties: dict[str, Any] = Field(default_factory=dict)


def emit_event(ctx: ActionContext, params: EmitEvent, _: Grant | None) -> dict[str, Any]:
    """Queued in the same transaction; it reaches its own rules (at most three levels deep)."""
    if ctx.emit(params.type, dict(params.properties)):
        return {"emitted": params.type}
    return {"emitted": None, "refused": f"follow-up events stop {MAX_EMIT_DEPTH} levels deep"}


def register_engine_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec("emit_event", EmitEvent, emit_event, description="Emit a follow-up event.")
    )
