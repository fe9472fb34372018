"""The rule set of `loyalty bench ingest --rules N`: N active rules, made and published through
the rule service, spread over the bench's event types, with varied conditions over event
properties and customer traits. Every 25th rule is broad (adoption: some features used for a
while on a paid plan) and matches about a quarter of its trigger's events, granting a point per
10 s of use, half of them capped per customer and week or month; the others are narrow and match
about 0.2% of their trigger's events each. With 100 rules (four broad, one per event type) about
0.3 decisions per event are recorded; the report gives the counts by outcome."""

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

DECISIONS = Decision.__table__  # type: ignore[attr-defined]
PAID_PLANS = list(PLANS[1:])
BROAD_EVERY = 25  # one rule in 25 matches often (with 100 rules, one per event type)


def rule_bodies(count: int) -> list[dict[str, Any]]:
    return [_broad(n) if n % BROAD_EVERY == 0 else _narrow(n) for n in range(count)]


def _broad(n: int) -> dict[str, Any]:
    """Adoption: half the features, used for 10 s or more on a paid plan by a team of some size,
    earn a point per 10 s (at most 20)."""
    features = [FEATURES[(n // BROAD_EVERY + k) % len(FEATURES)] for k in (0, 2, 4, 6)]
    condition = {
        "and": [
            {"in": [{"var": "event.properties.feature"}, features]},
            {"in": [{"var": "event.properties.plan"}, PAID_PLANS]},
            {">=": [{"var": "event.properties.duration_ms"}, 10_000]},
            {">=": [{"var": "customer.seats"}, 20]},
        ]
    }
    points = {"per": 10_000, "of": "event.properties.duration_ms", "max": 20}
    trigger = EVENT_TYPES[(n // BROAD_EVERY) % len(EVENT_TYPES)]
    body = _body(n, trigger, condition, points, name=f"bench adoption {n}")
    if n % (4 * BROAD_EVERY) == BROAD_EVERY:
        body["limits"] = {"per_customer": [{"count": 2, "window": {"calendar": "week"}}]}
    elif n % (4 * BROAD_EVERY) == 3 * BROAD_EVERY:
        body["limits"] = {
            "per_customer": [{"amount": 60, "unit": "points", "window": {"calendar": "month"}}]
        }
    return body


def _narrow(n: int) -> dict[str, Any]:
    """A feature on a page for a long session, sometimes on some plans or bigger teams."""
    feature = FEATURES[n % len(FEATURES)]
    page = PAGES[(n // len(FEATURES)) % len(PAGES)]
    parts: list[Any] = [
        {"==": [{"var": "event.properties.feature"}, feature]},
        {"==": [{"var": "event.properties.page"}, page]},
        {">": [{"var": "event.properties.duration_ms"}, 80_000 + (n * 997) % 8_000]},
    ]
    if n % 3 == 0:
        parts.append({"in": [{"var": "event.properties.plan"}, list(PLANS[1 + n % 3 :])]})
    if n % 7 == 0:
        seats = {"var": "event.properties.seats"}
        parts.append({"or": [{">": [seats, 50]}, {"==": [{"var": "customer.plan"}, "growth"]}]})
    points: Any = 10 + n % 40
    if n % 4 == 0:
        points = {"per": 1_000, "of": "event.properties.duration_ms", "max": 100}
    trigger = EVENT_TYPES[n % len(EVENT_TYPES)]
    body = _body(n, trigger, {"and": parts}, points, name=f"bench rule {n}")
    if n % 5 == 0:
        body["limits"] = {"per_customer": [{"count": 3, "window": {"calendar": "day"}}]}
    return body


def _body(
    n: int, trigger: str, condition: dict[str, Any], points: Any, *, name: str
) -> dict[str, Any]:
    return {
        "key": f"bench-rule-{n:03d}",
        "name": name,
        "triggers": [trigger],
        "condition": condition,
        "actions": [{"type": "award_points", "params": {"points": points}}],
        "priority": n,
        "activate": True,
    }


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


def decisions_recorded(database_url: str) -> dict[str, Any]:
    """How many events the run stored, and how many rule decisions, by outcome."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine, write=False) as session:
            outcome = DECISIONS.c.outcome
            stmt = select(outcome, func.count()).group_by(outcome)
            outcomes = session.execute(stmt).all()
            events = session.execute(select(func.count()).select_from(Event)).scalar_one()
    finally:
        engine.dispose()
    by_outcome = {str(outcome): int(n) for outcome, n in sorted(outcomes)}
    return {"events": int(events), "decisions": sum(by_outcome.values()), "by_outcome": by_outcome}
