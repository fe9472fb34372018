"""Milestone use cases: define, edit and archive milestones (each change audited, the generation
bumped), record achievements once, grant by hand, and read a customer's progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine import audit
from loyalty_engine.customers.models import Customer
from loyalty_engine.db import insert_ignore
from loyalty_engine.errors import json_path, problem
from loyalty_engine.milestones.announce import Achieved, Publish
from loyalty_engine.milestones.catalog import MILESTONES_GENERATION
from loyalty_engine.milestones.definitions import problems
from loyalty_engine.milestones.errors import (
    InvalidMilestone,
    MilestoneArchived,
    MilestoneKeyTaken,
    MilestoneNotFound,
)
from loyalty_engine.milestones.models import (
    AchievedBy,
    Milestone,
    MilestoneAchievement,
    MilestoneStepCount,
)
from loyalty_engine.milestones.progress import Goal, Progress, progress, required_count
from loyalty_engine.milestones.schemas import MilestoneCreate, MilestoneFields, MilestoneUpdate
from loyalty_engine.rules.facts import rule_schema
from loyalty_engine.rules.service import bump_generation
from loyalty_engine.segments.queries import declared_kinds

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
ACHIEVEMENTS = MilestoneAchievement.__table__  # type: ignore[attr-defined]
COUNTS = MilestoneStepCount.__table__  # type: ignore[attr-defined]
SUBJECT = "milestone"


def create_milestone(
    session: Session, *, body: MilestoneCreate, actor: str, now: datetime
) -> Milestone:
    _require_valid(session, body)
    if _find(session, body.key) is not None:
        raise MilestoneKeyTaken(body.key)
    milestone = Milestone(key=body.key, name=body.name, created_at=now, updated_at=now)
    _assign(milestone, body)
    session.add(milestone)
    session.flush()
    bump_generation(session, MILESTONES_GENERATION)
    _audit(session, milestone.key, "create", actor, {}, content(milestone), now)
    return milestone


def update_milestone(
    session: Session, *, key: str, changes: MilestoneUpdate, actor: str, now: datetime
) -> Milestone:
    """Apply `changes` in place. Counts are kept by step key: a step that keeps its key keeps
    its counts; achievements stay whatever changes."""
    milestone = get_milestone(session, key=key, lock=True)
    if milestone.archived_at is not None:
        raise MilestoneArchived(key)
    given = changes.model_dump(exclude_unset=True)
    for one, other in (("required_steps", "required_bps"), ("required_bps", "required_steps")):
        if given.get(one) is not None and other not in given:
            given[other] = None  # setting one way of saying "how many" replaces the other
    before = content(milestone)
    merged = _merged(before, given)
    _require_valid(session, merged)
    _assign(milestone, merged)
    milestone.updated_at = now
    session.flush()
    bump_generation(session, MILESTONES_GENERATION)
    _audit(session, key, "edit", actor, before, content(milestone), now)
    return milestone


def archive_milestone(session: Session, *, key: str, actor: str, now: datetime) -> Milestone:
    """Stop counting and achieving it; achievements so far stay (and stay facts)."""
    milestone = get_milestone(session, key=key, lock=True)
    if milestone.archived_at is not None:
        raise MilestoneArchived(key)
    milestone.archived_at = now
    milestone.updated_at = now
    session.flush()
    bump_generation(session, MILESTONES_GENERATION)
    _audit(session, key, "archive", actor, {"archived": False}, {"archived": True}, now)
    return milestone


def get_milestone(session: Session, *, key: str, lock: bool = False) -> Milestone:
    stmt = select(Milestone).where(col(Milestone.key) == key)
    found = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if found is None:
        raise MilestoneNotFound(key)
    return found


def list_milestones(session: Session) -> list[Milestone]:
    return list(session.execute(select(Milestone).order_by(col(Milestone.key))).scalars())


def history(session: Session, *, key: str) -> list[audit.AuditEntry]:
    get_milestone(session, key=key)
    return audit.history(session, subject_type=SUBJECT, subject_id=key)


def content(milestone: Milestone) -> dict[str, Any]:
    """A definition as JSON (what PATCH merges over, and what audit diffs)."""
    fields = MilestoneFields.model_validate(
        {
            "name": milestone.name,
            "description": milestone.description,
            "steps": milestone.steps,
            "required_steps": milestone.required_steps,
            "required_bps": milestone.required_bps,
            "condition": milestone.condition,
        }
    )
    return fields.model_dump(mode="json")


def _assign(milestone: Milestone, fields: MilestoneFields) -> None:
    milestone.name = fields.name
    milestone.description = fields.description
    milestone.steps = [s.model_dump(mode="json") for s in fields.steps]
    milestone.required_steps = fields.required_steps
    milestone.required_bps = fields.required_bps
    milestone.condition = fields.condition


def _merged(before: dict[str, Any], given: dict[str, Any]) -> MilestoneFields:
    """The stored definition with the changes over it, checked as a whole (steps removed may
    leave fewer than required_steps, for one)."""
    try:
        return MilestoneFields.model_validate({**before, **given})
    except ValidationError as exc:
        details = [
            problem(json_path(e["loc"]), str(e["msg"]).removeprefix("Value error, "), e["type"])
            for e in exc.errors()
        ]
        raise InvalidMilestone(
            f"the milestone is not valid: {details[0]['message']}", details=details
        ) from exc


def _require_valid(session: Session, fields: MilestoneFields) -> None:
    found = problems(fields, rule_schema(declared_kinds(session)))
    if found:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in found[:5])
        raise InvalidMilestone(f"the milestone is not valid: {summary}", details=found)


def _find(session: Session, key: str) -> int | None:
    return session.execute(select(col(Milestone.id)).where(col(Milestone.key) == key)).scalar()


def _audit(
    session: Session,
    key: str,
    action: str,
    actor: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    audit.record(
        session,
        subject_type=SUBJECT,
        subject_id=key,
        action=action,
        actor=actor,
        before=before,
        after=after,
        now=now,
    )


# --- achievements ---


def lock_customers(session: Session, customer_ids: list[int]) -> None:
    # Achievement reads the counts and writes once: concurrent events of one customer must take
    # turns, or each could miss the other's count (SQLite's writer lock already serializes).
    # FOR NO KEY UPDATE, as the rules engine's lock_customer explains: the events just inserted
    # hold key-share locks on these rows. In id order, so that two batches never deadlock.
    stmt = (
        select(CUSTOMERS.c.id)
        .where(CUSTOMERS.c.id.in_(customer_ids))
        .order_by(CUSTOMERS.c.id)
        .with_for_update(key_share=True)
    )
    session.execute(stmt).all()


def record_achievement(
    session: Session,
    *,
    customer_id: int,
    milestone_id: int,
    achieved_at: datetime,
    achieved_by: AchievedBy,
    event_id: int | None,
    actor: str,
    now: datetime,
) -> bool:
    """True if this call recorded it; False if the customer had it already (nothing changes)."""
    stmt = (
        insert_ignore(ACHIEVEMENTS, session.get_bind().dialect.name)
        .values(
            customer_id=customer_id,
            milestone_id=milestone_id,
            achieved_at=achieved_at,
            recorded_at=now,
            achieved_by=achieved_by,
            event_id=event_id,
            actor=actor,
        )
        .returning(ACHIEVEMENTS.c.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def achievement(
    session: Session, *, customer_id: int, milestone_id: int
) -> MilestoneAchievement | None:
    stmt = select(MilestoneAchievement).where(
        col(MilestoneAchievement.customer_id) == customer_id,
        col(MilestoneAchievement.milestone_id) == milestone_id,
    )
    return session.execute(stmt).scalar_one_or_none()


def grant_milestone(
    session: Session,
    *,
    customer: Customer,
    key: str,
    actor: str,
    now: datetime,
    publish: Publish,
) -> tuple[MilestoneAchievement, bool]:
    """Staff grant: the achievement (new or the existing one) and whether this call made it.
    A new one is announced at once (`milestone_achieved`, one level below the request)."""
    milestone = get_milestone(session, key=key)
    assert customer.id is not None
    assert milestone.id is not None
    lock_customers(session, [customer.id])
    existing = achievement(session, customer_id=customer.id, milestone_id=milestone.id)
    if existing is not None:
        return existing, False
    if milestone.archived_at is not None:
        raise MilestoneArchived(key)
    record_achievement(
        session,
        customer_id=customer.id,
        milestone_id=milestone.id,
        achieved_at=now,
        achieved_by=AchievedBy.STAFF,
        event_id=None,
        actor=actor,
        now=now,
    )
    _audit(session, key, "grant", actor, {}, {"customer": customer.external_id}, now)
    publish(session, [Achieved(customer.id, customer.external_id, key, now, AchievedBy.STAFF)], 1)
    made = achievement(session, customer_id=customer.id, milestone_id=milestone.id)
    assert made is not None
    return made, True


# --- a customer's progress ---


def customer_progress(
    session: Session, *, customer_id: int
) -> list[tuple[Milestone, Progress, MilestoneAchievement | None]]:
    """Each active milestone (and each archived one the customer achieved) with its progress."""
    stmt = select(MilestoneAchievement).where(col(MilestoneAchievement.customer_id) == customer_id)
    achieved = {a.milestone_id: a for a in session.execute(stmt).scalars()}
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(COUNTS.c.milestone_id, COUNTS.c.step_key, COUNTS.c.count).where(
            COUNTS.c.customer_id == customer_id
        )
    )
    for milestone_id, step_key, count in rows:
        counts.setdefault(milestone_id, {})[step_key] = int(count)
    found = []
    for milestone in list_milestones(session):
        assert milestone.id is not None
        done = achieved.get(milestone.id)
        if milestone.archived_at is not None and done is None:
            continue
        goals = [Goal(s["key"], int(s.get("count", 1))) for s in milestone.steps]
        required = required_count(
            len(goals), steps=milestone.required_steps, bps=milestone.required_bps
        )
        state = progress(
            goals,
            required,
            counts.get(milestone.id, {}),
            has_condition=milestone.condition is not None,
            achieved=done is not None,
        )
        found.append((milestone, state, done))
    return found
