"""Backtest use cases: choose the rules to test (saved versions or drafts, checked as saving
checks them), replay the period's events through them and the active rules, report. Read-only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.errors import json_path, problem
from loyalty_engine.rules import service
from loyalty_engine.rules.backtest import Replay, RuleLabel, Simulation
from loyalty_engine.rules.backtest_stream import (
    Period,
    count_events,
    recorded_decisions,
    stream_events,
)
from loyalty_engine.rules.dryrun import draft_rule
from loyalty_engine.rules.engine import CompiledRule, RulesEngine, compile_rule
from loyalty_engine.rules.errors import InvalidRule, RuleNotFound, RuleVersionNotFound
from loyalty_engine.rules.models import RuleVersion
from loyalty_engine.rules.schemas import RuleCreate, SavedRuleRef

DEFAULT_DAYS = 30
OnProgress = Callable[[int, int], None]  # (events replayed, events to replay)
TestedRule = tuple[RuleLabel, CompiledRule]

CAVEATS = [
    "Customers' traits, tiers, milestones and balances are today's values: they are not "
    "versioned. Facts from providers (segments, tiers, milestones, balances) are computed from "
    "them once per customer and day of events, as of the end of that day; `now` in conditions "
    "is each event's own time.",
    "Limits and budgets start empty at `from`: grants before the period do not count against them.",
    "Actions are not carried out: traits and stages a rule would set do not change the facts of "
    "later events, and emit_event follow-ups are not replayed (follow-up events already stored "
    "are replayed like any other).",
    "Only events of a type some replayed rule is triggered by are read.",
]
RECORDED_CAVEAT = (
    "`recorded` counts each decision's main grant (that of its first granting action)."
)


def backtest_period(since: datetime | None, until: datetime | None, now: datetime) -> Period:
    """The period asked for; by default the last 30 days before now."""
    end = until or now
    period = Period(since or end - timedelta(days=DEFAULT_DAYS), end)
    if period.since >= period.until:
        raise InvalidRule(
            "the period is empty: `from` must be before `until`",
            details=[problem("$.from", "must be before `until`", "empty_period")],
        )
    return period


def select_rules(
    session: Session, *, items: Sequence[Any], engine: RulesEngine, validate: service.RuleValidator
) -> list[TestedRule]:
    """Each item is a saved rule (`"key"` or `{"key", "version"?}`: the version, else the draft,
    else the active version) or a draft as `POST /v1/rules` takes it. Every problem at once, each
    at its JSON path; 422 if there is any."""
    chosen: list[TestedRule] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"$.rules[{index}]"
        try:
            chosen.append(_choose(session, item, index, engine, validate))
        except ValidationError as invalid:
            problems += [
                problem(where + json_path(e["loc"])[1:], e["msg"], e["type"])
                for e in invalid.errors()
            ]
        except InvalidRule as invalid:
            problems += [{**p, "path": where + p["path"][1:]} for p in invalid.details]
        except (RuleNotFound, RuleVersionNotFound) as missing:
            field = "key" if isinstance(missing, RuleNotFound) else "version"
            problems.append(problem(f"{where}.{field}", missing.message, missing.code))
    if problems:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise InvalidRule(f"the rules are not valid: {summary}", details=problems)
    return chosen


def _choose(
    session: Session, item: Any, index: int, engine: RulesEngine, validate: service.RuleValidator
) -> TestedRule:
    if isinstance(item, str):
        return _saved(session, SavedRuleRef.model_validate({"key": item}), engine)
    if isinstance(item, dict) and set(item) <= {"key", "version"}:
        return _saved(session, SavedRuleRef.model_validate(item), engine)
    return _draft(session, RuleCreate.model_validate(item), index, engine, validate)


def _saved(session: Session, ref: SavedRuleRef, engine: RulesEngine) -> TestedRule:
    state = service.get_rule(session, key=ref.key)
    if ref.version is not None:
        version = service.version_of(session, state.rule, ref.version)
    else:
        found = state.draft or state.active
        if found is None:
            raise RuleVersionNotFound(f"rule {ref.key!r} has no draft or active version")
        version = found
    label = RuleLabel(state.rule.key, version.version, version.name, str(version.status))
    return label, compile_rule(state.rule, version, engine.catalog.actions)


def _draft(
    session: Session,
    fields: RuleCreate,
    index: int,
    engine: RulesEngine,
    validate: service.RuleValidator,
) -> TestedRule:
    problems = validate(session, fields)
    if problems:
        raise InvalidRule("the draft is not valid", details=problems)
    key = fields.key or f"draft-{index + 1}"
    return RuleLabel(key, None, fields.name, "unsaved"), dataclasses.replace(
        draft_rule(fields, engine), key=key
    )


def active_rules(session: Session, *, engine: RulesEngine) -> list[TestedRule]:
    """The active rules as the engine runs them now."""
    book = engine.catalog.book(session)
    unique = {r.version_id: r for rules in book.by_trigger.values() for r in rules}
    stmt = select(RuleVersion).where(col(RuleVersion.id).in_(list(unique)))
    names = {v.id: v.name for v in session.execute(stmt).scalars()}
    ordered = sorted(unique.values(), key=lambda r: (r.priority, r.key))
    return [
        (RuleLabel(r.key, r.version, names.get(r.version_id, ""), "active"), r) for r in ordered
    ]


def run_backtest(
    session: Session,
    *,
    engine: RulesEngine,
    rules: Sequence[TestedRule],
    active: Sequence[TestedRule] | None,
    period: Period,
    event_type: str | None,
    progress: OnProgress | None = None,
) -> dict[str, Any]:
    """Replay the period's stored events through `rules` (and `active`, to compare) and report
    what they would have matched and granted. Writes nothing; memory holds one chunk of events."""
    replay = Replay(Simulation(rules), Simulation(active) if active is not None else None)
    types = replay.triggers & {event_type} if event_type is not None else replay.triggers
    total = count_events(session, period=period, types=types)
    if progress is not None:
        progress(0, total)
    for batch in stream_events(session, engine=engine, period=period, types=types):
        for event, customer in batch:
            replay.observe(event, customer)
        if progress is not None:
            progress(replay.events, max(total, replay.events))
    recorded = None
    if active is not None:
        recorded = recorded_decisions(session, period=period, event_type=event_type)
    return {
        "period": {**period.to_json(), "event_type": event_type},
        "events": replay.events,
        **replay.to_json(),
        "recorded": recorded,
        "caveats": [*CAVEATS, *([RECORDED_CAVEAT] if recorded is not None else [])],
    }
