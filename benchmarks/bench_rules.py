"""The rule set of `loyalty bench ingest --rules N`: N active rules, made and published through
the rule service, spread over the bench's event types. Like a real program, most product events
earn nothing: each rule reads several event properties and matches about 0.2% of the events of
its trigger, so with 100 rules about 5% of events get a decision (the report gives the count).
A fifth of the rules cap per customer and day, a quarter compute points from a property."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from benchmarks.payloads import EVENT_TYPES, FEATURES, PAGES, PLANS
from loyalty_engine.app import build_runtime
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.events.models import Event
from loyalty_engine.messaging.memory import InMemoryMailer
from loyalty_engine.rules.models import Decision
from loyalty_engine.rules.schemas import RuleCreate
from loyalty_engine.rules.service import create_rule
from loyalty_engine.rules.validation import rule_validator


def rule_bodies(count: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(count):
        feature = FEATURES[n % len(FEATURES)]
        page = PAGES[(n // len(FEATURES)) % len(PAGES)]
        condition: dict[str, Any] = {
            "and": [
                {"==": [{"var": "event.properties.feature"}, feature]},
                {"==": [{"var": "event.properties.page"}, page]},
                {">": [{"var": "event.properties.duration_ms"}, 80_000 + (n * 997) % 8_000]},
            ]
        }
        if n % 3 == 0:
            condition["and"].append(
                {"in": [{"var": "event.properties.plan"}, list(PLANS[1 + n % 3 :])]}
            )
        points: Any = 10 + n % 40
        if n % 4 == 0:
            points = {"per": 1_000, "of": "event.properties.duration_ms", "max": 100}
        body: dict[str, Any] = {
            "key": f"bench-rule-{n:03d}",
            "name": f"bench rule {n}",
            "triggers": [EVENT_TYPES[n % len(EVENT_TYPES)]],
            "condition": condition,
            "actions": [{"type": "award_points", "params": {"points": points}}],
            "priority": n,
            "activate": True,
        }
        if n % 5 == 0:
            body["limits"] = {"per_customer": [{"count": 3, "window": {"calendar": "day"}}]}
        bodies.append(body)
    return bodies


def create_rules(database_url: str, count: int, now: datetime) -> None:
    """Publish the rules, checked by the same validator (and action registry) as the API."""
    runtime = build_runtime(
        Settings(database_url=database_url),
        clock=FrozenClock(now),
        billing=InMemoryBillingGateway(),
        mailer=InMemoryMailer(),
    )
    try:
        validate = rule_validator(runtime.actions)
        with session_scope(runtime.engine, write=True) as session:
            for body in rule_bodies(count):
                rule = RuleCreate.model_validate(body)
                create_rule(session, body=rule, actor="bench", now=now, validate=validate)
    finally:
        runtime.engine.dispose()


def decisions_recorded(database_url: str) -> tuple[int, int]:
    """How many rule decisions and how many events the run stored."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine, write=False) as session:
            decisions = session.execute(select(func.count()).select_from(Decision)).scalar_one()
            events = session.execute(select(func.count()).select_from(Event)).scalar_one()
            return int(decisions), int(events)
    finally:
        engine.dispose()
