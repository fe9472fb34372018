"""Rule actions that grant from the ledger: `award_points` and `grant_credit`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from loyalty_engine.money import normalize_currency
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.amounts import Amount, resolve
from rewards import service
from rewards.models import SourceKind

Days = Annotated[StrictInt, Field(ge=1, le=3660)]


class AwardPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Amount = Field(description="A whole number, or {per, of, units, max} of a fact.")
    expires_in_days: Days | None = None
    hold_days: Days | None = Field(default=None, description="Pending until then.")
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class GrantCredit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: Amount
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    expires_in_days: Days | None = None
    hold_days: Days | None = None
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


def _preview_points(params: AwardPoints, facts: dict[str, Any]) -> Grant | None:
    amount = resolve(params.points, facts)
    return Grant("points", amount) if amount > 0 else None


def _preview_credit(params: GrantCredit, facts: dict[str, Any]) -> Grant | None:
    amount = resolve(params.amount_minor, facts)
    return Grant(normalize_currency(params.currency), amount) if amount > 0 else None


def _grant(
    ctx: ActionContext, params: AwardPoints | GrantCredit, grant: Grant | None
) -> dict[str, Any]:
    if grant is None:
        return {"granted": 0, "note": "the amount came to nothing for these facts"}
    entry = service.grant(
        ctx.session,
        customer_id=ctx.customer_id,
        unit=grant.unit,
        amount=grant.amount,
        reason=params.reason or f"rule decision {ctx.decision_id}",
        source_kind=SourceKind.RULE,
        source_ref=f"decision:{ctx.decision_id}",
        now=ctx.now,
        matures_at=ctx.now + timedelta(days=params.hold_days) if params.hold_days else None,
        expires_at=ctx.now + timedelta(days=params.expires_in_days)
        if params.expires_in_days
        else None,
        idempotency_key=f"decision:{ctx.decision_id}:{grant.unit}",
        rule_version_id=ctx.rule_version_id,
        event_id=ctx.event_id,
        decision_id=ctx.decision_id,
    )
    return {"granted": grant.amount, "unit": grant.unit, "entry_id": entry.id}


def register_reward_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            "award_points",
            AwardPoints,
            _grant,
            _preview_points,
            "Grant points (a lot in the ledger).",
        )
    )
    registry.register(
        ActionSpec(
            "grant_credit",
            GrantCredit,
            _grant,
            _preview_credit,
            "Grant account credit in minor units of a currency.",
        )
    )
