"""The `grant_milestone` rule action: achieve a milestone for the event's customer (once)."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.milestones.announce import Achieved, announce_after
from loyalty_engine.milestones.models import AchievedBy, Milestone
from loyalty_engine.milestones.service import lock_customers, record_achievement
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.schemas import Key


def _state(session: Session, key: str) -> tuple[int, bool] | None:
    """(id, archived) of the milestone `key`, or None."""
    stmt = select(Milestone).where(col(Milestone.key) == key)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None or found.id is None:
        return None
    return found.id, found.archived_at is not None


class GrantMilestone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    milestone: Key = Field(description="The key of an active milestone.")

    def missing_references(self, session: Session) -> list[tuple[str, str]]:
        """(field, message) for what these parameters name that is not there to use: checked
        when a rule is saved (rules/validation.py)."""
        state = _state(session, self.milestone)
        if state is None:
            live = select(col(Milestone.key)).where(col(Milestone.archived_at).is_(None))
            keys = list(session.execute(live).scalars())
            close = difflib.get_close_matches(self.milestone, keys, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            return [("milestone", f"unknown milestone {self.milestone!r}{hint}")]
        if state[1]:
            return [("milestone", f"milestone {self.milestone!r} is archived")]
        return []


def grant_milestone(ctx: ActionContext, params: GrantMilestone, _: Grant | None) -> dict[str, Any]:
    """Recorded now; `milestone_achieved` follows once the event's rules have all decided. Later
    rules on the same event already see the milestone in `customer.milestones`."""
    key = params.milestone
    state = _state(ctx.session, key)
    if state is None or state[1]:
        reason = "no longer exists" if state is None else "is archived"
        return {"milestone": key, "granted": False, "refused": f"the milestone {reason}"}
    lock_customers(ctx.session, [ctx.customer_id])
    made = record_achievement(
        ctx.session,
        customer_id=ctx.customer_id,
        milestone_id=state[0],
        achieved_at=ctx.now,
        achieved_by=AchievedBy.RULE,
        event_id=ctx.event_id,
        actor=f"decision:{ctx.decision_id}",
        now=ctx.now,
    )
    if not made:
        return {"milestone": key, "granted": False, "note": "already achieved"}
    ctx.facts["customer"].setdefault("milestones", []).append(key)
    achieved = Achieved(ctx.customer_id, ctx.customer_external_id, key, ctx.now, AchievedBy.RULE)
    announce_after(ctx.session, ctx.event_id, achieved)
    return {"milestone": key, "granted": True}


def register_milestone_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            "grant_milestone",
            GrantMilestone,
            grant_milestone,
            description="Achieve a milestone for the customer (once).",
        )
    )
