"""Rule actions on the ledger: `award_points` and `grant_credit` grant; `reverse_grants` undoes
what the rules granted for an earlier event (a refund, a chargeback)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from sqlalchemy import select

from loyalty_engine.events.models import Event
from loyalty_engine.money import normalize_currency
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.amounts import Amount, FactPath, read_fact, resolve
from loyalty_engine.rules.models import Decision, Outcome
from rewards import service
from rewards.ledger import ReversalPolicy
from rewards.models import SourceKind
from rewards.postings import ACCOUNTS

EVENTS = Event.__table__  # type: ignore[attr-defined]
DECISIONS = Decision.__table__  # type: ignore[attr-defined]

Days = Annotated[StrictInt, Field(ge=1, le=3660)]


class AwardPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Amount = Field(description="A whole number, or {per, of, units, max} of a fact.")
    expires_in_days: Days | None = None
    hold_days: Days | None = Field(default=None, description="Pending until then.")
    reason: Annotated[str, StringConstraints(max_length=200)] = ""
    tier_multiplier: bool = Field(
        default=True, description="Apply the customer's tier earning multiplier (rounded down)."
    )


class GrantCredit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: Amount
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    expires_in_days: Days | None = None
    hold_days: Days | None = None
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


def _preview_points(params: AwardPoints, facts: dict[str, Any]) -> Grant | None:
    amount = resolve(params.points, facts)
    if params.tier_multiplier:
        multiplier = facts.get("customer", {}).get("tier_multiplier_bps", 10_000)
        amount = amount * multiplier // 10_000  # earned points round down
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
        # One grant per action of the decision (the first keeps the key it always had).
        idempotency_key=f"decision:{ctx.decision_id}:{grant.unit}"
        + (f":action:{ctx.action_index}" if ctx.action_index else ""),
        new_key=True,  # the decision was recorded in this transaction: its keys are unused
        rule_version_id=ctx.rule_version_id,
        event_id=ctx.event_id,
        decision_id=ctx.decision_id,
    )
    return {"granted": grant.amount, "unit": grant.unit, "entry_id": entry.id}


class ReverseGrants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    of_event: FactPath = Field(
        description="Where this event names the earlier event's idempotency key, e.g. "
        "event.properties.invoice_id."
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The earlier event's source (by default this event's)."
    )
    policy: ReversalPolicy = Field(
        default=ReversalPolicy.CLAW_BACK_TO_ZERO,
        description="What happens to the part already spent.",
    )


def _reverse(ctx: ActionContext, params: ReverseGrants, _: Grant | None) -> dict[str, Any]:
    key = read_fact(ctx.facts, params.of_event)
    if not isinstance(key, str) or not key:
        return {"reversed": 0, "refused": f"{params.of_event} names no event"}
    source = params.source or ctx.facts.get("event", {}).get("source")
    original = ctx.session.execute(
        select(EVENTS.c.id).where(
            EVENTS.c.customer_id == ctx.customer_id,  # only this customer's own events
            EVENTS.c.source == source,
            EVENTS.c.idempotency_key == key,
        )
    ).scalar_one_or_none()
    if original is None:
        return {"reversed": 0, "refused": f"no event {key!r} from {source!r} for this customer"}
    decisions = ctx.session.execute(
        select(DECISIONS.c.id)
        .where(DECISIONS.c.event_id == original, DECISIONS.c.outcome == Outcome.APPLIED)
        .order_by(DECISIONS.c.id)
    ).scalars()
    entries = []
    for decision_id in decisions:
        entries += service.reverse_source(
            ctx.session,
            source_kind=SourceKind.RULE,
            source_ref=f"decision:{decision_id}",
            reason=f"reversed: {ctx.event_type} (event {ctx.event_id})",
            now=ctx.now,
            policy=params.policy,
        )
    units: dict[int, str] = dict(
        ctx.session.execute(
            select(ACCOUNTS.c.id, ACCOUNTS.c.unit).where(
                ACCOUNTS.c.id.in_({e.account_id for e in entries})
            )
        ).all()
    )
    taken: dict[str, int] = {}
    for entry in entries:
        unit = units[entry.account_id]
        taken[unit] = taken.get(unit, 0) - entry.amount - entry.pending_amount
    return {
        "reversed": len(entries),
        "of_event": original,
        "taken": taken,
        "unrecovered": sum(e.unrecovered for e in entries),
    }


def register_reward_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            "reverse_grants",
            ReverseGrants,
            _reverse,
            description="Undo what the rules granted for an earlier event (a refund).",
        )
    )
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
