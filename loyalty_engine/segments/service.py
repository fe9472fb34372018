"""Segment use cases: create, edit, archive (each audited, each moving the segments generation),
read, and membership counted and listed in SQL as of the caller's `now`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalty_engine import audit
from loyalty_engine.customers.schemas import CustomerRead
from loyalty_engine.rules.conditions import valid_segment_condition
from loyalty_engine.rules.customer_facts import customer_resolver
from loyalty_engine.rules.errors import ConditionInvalid, Problem
from loyalty_engine.rules.facts import Kind, segment_schema
from loyalty_engine.rules.models import Rule, RuleVersion, VersionStatus
from loyalty_engine.rules.nodes import Node
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.service import bump_generation
from loyalty_engine.segments.errors import (
    InvalidSegment,
    SegmentArchived,
    SegmentInUse,
    SegmentKeyTaken,
    SegmentNotFound,
    SegmentOutdated,
)
from loyalty_engine.segments.membership import (
    CUSTOMERS,
    count_where,
    members_where,
    membership_filter,
)
from loyalty_engine.segments.models import Segment
from loyalty_engine.segments.queries import declared_kinds
from loyalty_engine.segments.schemas import SegmentCreate, SegmentUpdate

SEGMENTS_GENERATION = "segments"


def create_segment(session: Session, *, body: SegmentCreate, actor: str, now: datetime) -> Segment:
    key = body.key or _slug(body.name)
    check_condition(session, body.condition, now=now, lock_kinds=True)
    if session.execute(select(col(Segment.id)).where(col(Segment.key) == key)).first():
        raise SegmentKeyTaken(f"a segment with key {key!r} exists", details={"key": key})
    segment = Segment(
        key=key,
        name=body.name,
        description=body.description,
        condition=body.condition,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    try:
        session.flush()
    except IntegrityError:  # created by a concurrent request since the check above
        raise SegmentKeyTaken(f"a segment with key {key!r} exists", details={"key": key}) from None
    _changed(session, segment, "create", actor, {}, now)
    return segment


def update_segment(
    session: Session, *, key: str, changes: SegmentUpdate, actor: str, now: datetime
) -> Segment:
    segment = _live(session, key)
    given = changes.model_dump(exclude_unset=True)
    if "condition" in given:
        check_condition(session, given["condition"], now=now, lock_kinds=True)
    if given.get("name", "") is None:  # a segment always has a name: null leaves it
        del given["name"]
    if "description" in given:
        given["description"] = given["description"] or ""
    before = _content(segment)
    for name, value in given.items():
        setattr(segment, name, value)
    segment.updated_at = now
    session.flush()
    _changed(session, segment, "edit", actor, before, now)
    return segment


def archive_segment(session: Session, *, key: str, actor: str, now: datetime) -> Segment:
    """Switch a segment off (it is kept for history); refused while rules are scoped to it."""
    segment = _live(session, key)
    scoped = rules_scoped_to(session, key)
    if scoped:
        names = ", ".join(scoped)
        raise SegmentInUse(
            f"segment {key!r} scopes rules {names}: change their segment first",
            details={"segment": key, "rules": scoped},
        )
    before = _content(segment)
    segment.archived_at = now
    segment.updated_at = now
    session.flush()
    _changed(session, segment, "archive", actor, before, now)
    return segment


def get_segment(session: Session, *, key: str, lock: bool = False) -> Segment:
    stmt = select(Segment).where(col(Segment.key) == key)
    segment = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if segment is None:
        raise SegmentNotFound(f"no segment {key!r}", details={"key": key})
    return segment


def list_segments(session: Session, *, include_archived: bool) -> list[Segment]:
    stmt = select(Segment).order_by(col(Segment.key))
    if not include_archived:
        stmt = stmt.where(col(Segment.archived_at).is_(None))
    return list(session.execute(stmt).scalars())


def rules_scoped_to(session: Session, key: str) -> list[str]:
    """Keys of the rules whose active or draft version is scoped to the segment."""
    stmt = (
        select(Rule.key)  # type: ignore[call-overload]
        .join(RuleVersion, col(RuleVersion.rule_id) == col(Rule.id))
        .where(
            col(RuleVersion.segment_key) == key,
            col(RuleVersion.status).in_([VersionStatus.ACTIVE, VersionStatus.DRAFT]),
        )
        .distinct()
    )
    return sorted(str(k) for k in session.execute(stmt).scalars())


# --- membership ---


def count_members(session: Session, *, key: str, now: datetime) -> int:
    """How many customers are in the segment as of `now`: one COUNT over the customers table."""
    return count_where(session, _where(session, get_segment(session, key=key), now))


def list_members(
    session: Session, *, key: str, now: datetime, cursor: str | None, limit: int
) -> tuple[list[CustomerRead], str | None]:
    where = _where(session, get_segment(session, key=key), now)
    return members_where(session, where, cursor=cursor, limit=limit)


def preview_count(session: Session, *, condition: Any, now: datetime) -> int:
    """How many customers an unsaved condition holds for (checked as a save would check it)."""
    kinds = declared_kinds(session)
    node = _checked(condition, now=now, kinds=kinds)
    return count_where(session, membership_filter(node, now=now, custom_traits=kinds))


def _where(session: Session, segment: Segment, now: datetime) -> ColumnElement[bool]:
    try:
        node = parse(segment.condition)
        return membership_filter(node, now=now, custom_traits=declared_kinds(session))
    except ConditionInvalid as invalid:  # only an archived segment can get here (see traits)
        raise SegmentOutdated(
            f"segment {segment.key!r} reads traits whose kind changed since it was archived",
            details=[p.as_dict() for p in invalid.problems],
        ) from None


# --- checking ---


def check_condition(session: Session, condition: Any, *, now: datetime, lock_kinds: bool) -> Node:
    """The parsed condition, or InvalidSegment with every problem at `$.condition...`."""
    return _checked(condition, now=now, kinds=declared_kinds(session, share_lock=lock_kinds))


def _checked(condition: Any, *, now: datetime, kinds: Mapping[str, Kind]) -> Node:
    resolver = customer_resolver(CUSTOMERS, now=now, custom_traits=kinds)
    try:
        return valid_segment_condition(condition, segment_schema(kinds), resolver)
    except ConditionInvalid as invalid:
        problems = [_at_condition(_explained(p)) for p in invalid.problems]
        summary = "; ".join(str(p) for p in problems[:5])
        raise InvalidSegment(
            f"the segment is not valid: {summary}", details=[p.as_dict() for p in problems]
        ) from None


def _explained(problem: Problem) -> Problem:
    """Facts SQL cannot read: say what to do (declare a custom trait) or why (known at event
    time only), rather than the generic hint."""
    if problem.type != "sql_fact":
        return problem
    fact = problem.message.split(" ", 1)[0]
    parts = fact.split(".")
    if parts[:2] == ["customer", "custom"] and len(parts) == 3:
        hint = f"declare its kind first: PUT /v1/custom-traits/{parts[2]}"
        return replace(problem, message=f"{fact} is not a declared custom trait", suggestion=hint)
    hint = "segments read the customer's traits, declared custom traits and now"
    if fact == "customer.segments":
        hint = "a segment cannot read segments: combine their conditions instead"
    return replace(problem, suggestion=hint)


def _at_condition(problem: Problem) -> Problem:
    return replace(problem, path="$.condition" + problem.path.removeprefix("$"))


# --- helpers ---


def _live(session: Session, key: str) -> Segment:
    segment = get_segment(session, key=key, lock=True)
    if segment.archived_at is not None:
        raise SegmentArchived(f"segment {key!r} is archived", details={"key": key})
    return segment


def _changed(
    session: Session, segment: Segment, action: str, actor: str, before: Any, now: datetime
) -> None:
    bump_generation(session, SEGMENTS_GENERATION)
    audit.record(
        session,
        subject_type="segment",
        subject_id=segment.key,
        action=action,
        actor=actor,
        before=before,
        after=_content(segment),
        now=now,
    )


def _content(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "condition": segment.condition,
        "archived": segment.archived_at is not None,
    }


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "segment"
    return slug if slug[0].isalnum() else f"s{slug}"[:64]
