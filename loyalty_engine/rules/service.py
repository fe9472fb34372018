"""Rule use cases: create, edit (a draft in place, or a new draft over an active version),
activate, archive; each change in the audit log. Published versions never change."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine import audit
from loyalty_engine.db import insert_ignore
from loyalty_engine.rules.errors import (
    InvalidRule,
    NothingToActivate,
    RuleKeyTaken,
    RuleNotFound,
    RuleVersionNotFound,
)
from loyalty_engine.rules.models import ConfigGeneration, Rule, RuleVersion, VersionStatus
from loyalty_engine.rules.schemas import RuleCreate, RuleFields, RuleUpdate

# Checks a rule's content (condition against the fact schema, actions against the registry,
# the segment exists): every problem as {"path", "message", ...}; empty when valid.
RuleValidator = Callable[[Session, RuleFields], list[dict[str, str]]]
RULES_GENERATION = "rules"


@dataclass(frozen=True)
class RuleState:
    rule: Rule
    active: RuleVersion | None
    draft: RuleVersion | None
    versions: int


def create_rule(
    session: Session, *, body: RuleCreate, actor: str, now: datetime, validate: RuleValidator
) -> RuleState:
    _require_valid(session, body, validate)
    key = body.key or _slug(body.name)
    rule = Rule(key=key, created_at=now, updated_at=now)
    if session.execute(select(col(Rule.id)).where(col(Rule.key) == key)).first() is not None:
        raise RuleKeyTaken(f"a rule with key {key!r} exists", details={"key": key})
    session.add(rule)
    session.flush()
    version = _new_version(rule, 1, body, actor, now)
    session.add(version)
    session.flush()
    audit.record(
        session,
        subject_type="rule",
        subject_id=key,
        action="create",
        actor=actor,
        before={},
        after=_content(version),
        now=now,
    )
    if body.activate:
        return activate(session, key=key, version=1, actor=actor, now=now)
    return get_rule(session, key=key)


def update_rule(
    session: Session,
    *,
    key: str,
    changes: RuleUpdate,
    actor: str,
    now: datetime,
    validate: RuleValidator,
) -> RuleState:
    """Apply `changes` to the draft (or to a new draft copied from the active version)."""
    state = get_rule(session, key=key, lock=True)
    base = state.draft or state.active or _latest(session, state.rule)
    given = changes.model_dump(exclude_unset=True, exclude={"activate"})
    merged = RuleFields.model_validate({**_fields(base), **given})
    _require_valid(session, merged, validate)
    before = _content(base)
    if state.draft is not None:
        target = state.draft
        _assign(target, merged)
    else:
        target = _new_version(state.rule, state.versions + 1, merged, actor, now)
        session.add(target)
    state.rule.updated_at = now
    session.flush()
    audit.record(
        session,
        subject_type="rule",
        subject_id=key,
        action="edit",
        actor=actor,
        before=before,
        after=_content(target),
        now=now,
    )
    if changes.activate:
        return activate(session, key=key, version=target.version, actor=actor, now=now)
    return get_rule(session, key=key)


def activate(
    session: Session, *, key: str, version: int | None, actor: str, now: datetime
) -> RuleState:
    """Publish a draft: it becomes the active version and the previous one is archived."""
    state = get_rule(session, key=key, lock=True)
    target = state.draft if version is None else version_of(session, state.rule, version)
    if target is None or target.status != VersionStatus.DRAFT:
        raise NothingToActivate(
            f"rule {key!r} has no draft version {version or ''} to activate".replace("  ", " "),
            details={"key": key, "version": version},
        )
    if state.active is not None:
        state.active.status = VersionStatus.ARCHIVED
        state.active.archived_at = now
    target.status = VersionStatus.ACTIVE
    target.activated_at = now
    state.rule.updated_at = now
    session.flush()
    bump_generation(session, RULES_GENERATION)
    audit.record(
        session,
        subject_type="rule",
        subject_id=key,
        action="activate",
        actor=actor,
        before={"active": state.active.version if state.active else None},
        after={"active": target.version},
        now=now,
    )
    return get_rule(session, key=key)


def archive(session: Session, *, key: str, actor: str, now: datetime) -> RuleState:
    """Switch a rule off: its active version is archived (its history stays)."""
    state = get_rule(session, key=key, lock=True)
    if state.active is None:
        raise NothingToActivate(f"rule {key!r} is not active", details={"key": key})
    state.active.status = VersionStatus.ARCHIVED
    state.active.archived_at = now
    state.rule.updated_at = now
    session.flush()
    bump_generation(session, RULES_GENERATION)
    audit.record(
        session,
        subject_type="rule",
        subject_id=key,
        action="archive",
        actor=actor,
        before={"active": state.active.version},
        after={"active": None},
        now=now,
    )
    return get_rule(session, key=key)


def get_rule(session: Session, *, key: str, lock: bool = False) -> RuleState:
    stmt = select(Rule).where(col(Rule.key) == key)
    rule = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if rule is None:
        raise RuleNotFound(f"no rule {key!r}", details={"key": key})
    versions = list(
        session.execute(
            select(RuleVersion)
            .where(col(RuleVersion.rule_id) == rule.id)
            .order_by(col(RuleVersion.version))
        ).scalars()
    )
    return _state(rule, versions)


def _state(rule: Rule, versions: list[RuleVersion]) -> RuleState:
    active = next((v for v in versions if v.status == VersionStatus.ACTIVE), None)
    draft = next((v for v in versions if v.status == VersionStatus.DRAFT), None)
    return RuleState(rule, active, draft, len(versions))


def list_rules(session: Session) -> list[RuleState]:
    """Every rule with its active and draft versions: two queries, whatever the number of rules."""
    rules = session.execute(select(Rule).order_by(col(Rule.key))).scalars().all()
    by_rule: dict[int, list[RuleVersion]] = {}
    stmt = select(RuleVersion).order_by(col(RuleVersion.rule_id), col(RuleVersion.version))
    for version in session.execute(stmt).scalars():
        by_rule.setdefault(version.rule_id, []).append(version)
    return [_state(rule, by_rule.get(rule.id or 0, [])) for rule in rules]


def list_versions(session: Session, *, key: str) -> list[RuleVersion]:
    state = get_rule(session, key=key)
    stmt = select(RuleVersion).where(col(RuleVersion.rule_id) == state.rule.id)
    return list(session.execute(stmt.order_by(col(RuleVersion.version))).scalars())


def bump_generation(session: Session, name: str) -> None:
    table = ConfigGeneration.__table__  # type: ignore[attr-defined]
    session.execute(
        insert_ignore(table, session.get_bind().dialect.name).values(name=name, generation=0)
    )
    session.execute(
        update(table).where(table.c.name == name).values(generation=table.c.generation + 1)
    )


def _require_valid(session: Session, fields: RuleFields, validate: RuleValidator) -> None:
    problems = validate(session, fields)
    if problems:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise InvalidRule(f"the rule is not valid: {summary}", details=problems)


def _new_version(
    rule: Rule, number: int, fields: RuleFields, actor: str, now: datetime
) -> RuleVersion:
    assert rule.id is not None
    version = RuleVersion(
        rule_id=rule.id,
        version=number,
        status=VersionStatus.DRAFT,
        name=fields.name,
        created_by=actor,
        created_at=now,
    )
    _assign(version, fields)
    return version


def _assign(version: RuleVersion, fields: RuleFields) -> None:
    version.name = fields.name
    version.description = fields.description
    version.triggers = list(fields.triggers)
    version.condition = fields.condition
    version.actions = [a.model_dump() for a in fields.actions]
    version.limits = fields.limits.model_dump(exclude_none=True)
    version.priority = fields.priority
    version.stop_after_match = fields.stop_after_match
    version.segment_key = fields.segment
    version.active_from = fields.active_from
    version.active_until = fields.active_until


def _fields(version: RuleVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "description": version.description,
        "triggers": version.triggers,
        "condition": version.condition,
        "actions": version.actions,
        "limits": version.limits,
        "priority": version.priority,
        "stop_after_match": version.stop_after_match,
        "segment": version.segment_key,
        "active_from": version.active_from,
        "active_until": version.active_until,
    }


def _content(version: RuleVersion) -> dict[str, Any]:
    """A version's content as JSON, for diffs."""
    return RuleFields.model_validate(_fields(version)).model_dump(mode="json")


def _latest(session: Session, rule: Rule) -> RuleVersion:
    stmt = select(RuleVersion).where(col(RuleVersion.rule_id) == rule.id)
    return session.execute(stmt.order_by(col(RuleVersion.version).desc()).limit(1)).scalar_one()


def version_of(session: Session, rule: Rule, number: int) -> RuleVersion:
    stmt = select(RuleVersion).where(
        col(RuleVersion.rule_id) == rule.id, col(RuleVersion.version) == number
    )
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise RuleVersionNotFound(f"rule {rule.key!r} has no version {number}")
    return found


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "rule"
    return slug if slug[0].isalnum() else f"r{slug}"[:64]
