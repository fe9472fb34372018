"""Demo data: about 200 customers with realistic traits and a year of their events, loaded once.

Everything enters through the same doors as production data (`upsert_customer`, `ingest`), with
deterministic ids and idempotency keys, so a second load changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.customers.schemas import CustomerUpsert
from loyalty_engine.customers.service import upsert_customer
from loyalty_engine.db import session_scope
from loyalty_engine.events.schemas import EventIn
from loyalty_engine.events.service import IngestLimits, ingest
from loyalty_engine.milestones.demo import load_demo_milestones
from loyalty_engine.rules.schemas import RuleCreate
from loyalty_engine.rules.service import create_rule
from loyalty_engine.rules.validation import rule_validator
from loyalty_engine.runtime import Runtime
from loyalty_engine.segments.demo import load_demo_segments
from rewards.catalog import service as catalog
from rewards.catalog.schemas import RewardItemCreate
from rewards.renewals import service as renewals
from rewards.renewals.schemas import RenewalProgramFields
from rewards.tiers import service as tiers
from rewards.tiers.schemas import TierProgramFields

PLANS = {  # plan: (monthly price per seat in cents, seat range)
    "starter": (1_500, (1, 5)),
    "growth": (3_000, (5, 40)),
    "scale": (4_500, (25, 150)),
    "enterprise": (6_000, (100, 800)),
}
PLAN_WEIGHTS = {"starter": 40, "growth": 35, "scale": 17, "enterprise": 8}
ROLES = {"admin": 30, "manager": 30, "member": 30, "billing_owner": 10}
INDUSTRIES = [
    "fintech",
    "healthcare",
    "retail",
    "education",
    "logistics",
    "media",
    "manufacturing",
    "software",
]
PLACES = [
    ("US", "America/New_York", "usd"),
    ("US", "America/Los_Angeles", "usd"),
    ("CA", "America/Toronto", "usd"),
    ("GB", "Europe/London", "gbp"),
    ("DE", "Europe/Berlin", "eur"),
    ("FR", "Europe/Paris", "eur"),
    ("NL", "Europe/Amsterdam", "eur"),
    ("AU", "Australia/Sydney", "usd"),
    ("IN", "Asia/Kolkata", "usd"),
    ("BR", "America/Sao_Paulo", "usd"),
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Guido",
    "Katherine",
    "Donald",
    "Sophie",
    "John",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "van Rossum",
    "Johnson",
    "Knuth",
]
COMPANY_A = ["Blue", "North", "Bright", "Iron", "Swift", "Green", "Silver", "True", "Open", "Deep"]
COMPANY_B = ["Harbor", "Peak", "Labs", "Works", "Systems", "Analytics", "Cloud", "Logic", "Data"]
FEATURES = ["dashboards", "reports", "api", "integrations", "automations", "exports", "sso"]
MAIN_FEATURES = ["dashboards", "reports", "automations"]
ONBOARDING_STEPS = ["invite_team", "connect_data", "first_dashboard", "set_alerts", "install_app"]
DEMO_PREFIX = "demo-"
DEMO_KEY_NAME = "demo admin"


@dataclass
class DemoOutcome:
    summary: str
    admin_key: str | None = None
    customers: int = 0
    events: int = 0


@dataclass
class _Story:
    external_id: str
    traits: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


def load_demo(runtime: Runtime, *, customers: int, months: int, seed: int) -> DemoOutcome:
    now = runtime.clock.now().replace(microsecond=0)
    with session_scope(runtime.engine, write=False) as session:
        first = session.execute(
            select(col(Customer.id)).where(col(Customer.external_id) == f"{DEMO_PREFIX}0001")
        )
        if first.first() is not None:
            return DemoOutcome("demo data already loaded: nothing to do")
    _demo_rules(runtime, now)
    # Segments, milestones and programs exist before the events, so the events count for them.
    with session_scope(runtime.engine, write=True) as session:
        load_demo_segments(session, now=now)
        load_demo_milestones(session, now=now, runtime=runtime)
        _demo_programs(session, now)
    rng = random.Random(seed)
    stories = [_story(rng, i + 1, now, months) for i in range(customers)]
    total = sum(len(s.events) for s in stories)
    limits = IngestLimits(future_tolerance=timedelta(hours=1), max_properties_bytes=32_768)
    with Progress(transient=True) as progress:
        task = progress.add_task("Loading demo data", total=len(stories) + total)
        for chunk in _chunks(stories, 50):
            with session_scope(runtime.engine, write=True) as session:
                for story in chunk:
                    upsert_customer(
                        session,
                        external_id=story.external_id,
                        changes=CustomerUpsert.model_validate(story.traits),
                        now=now,
                    )
                events = [
                    (i, EventIn.model_validate(e)) for s in chunk for i, e in enumerate(s.events)
                ]
                ingest(session, events=events, reactors=runtime.reactors, limits=limits, now=now)
            progress.advance(task, len(chunk) + sum(len(s.events) for s in chunk))
    key = _demo_key(runtime, now)
    return DemoOutcome(
        f"loaded {len(stories)} demo customers and {total} events over {months} months",
        admin_key=key,
        customers=len(stories),
        events=total,
    )


DEMO_RULES: list[dict[str, Any]] = [
    {
        "key": "points-per-dollar",
        "name": "1 point per dollar paid",
        "triggers": ["invoice_paid"],
        "actions": [
            {
                "type": "award_points",
                "params": {
                    "points": {"per": 100, "of": "event.properties.amount_minor"},
                    "expires_in_days": 365,
                },
            },
        ],
    },
    {
        "key": "first-dashboard-bonus",
        "name": "500 points for building the first dashboard",
        "triggers": ["onboarding_step_completed"],
        "condition": {"==": [{"var": "event.properties.step"}, "first_dashboard"]},
        "actions": [{"type": "award_points", "params": {"points": 500}}],
        "limits": {"per_customer": [{"count": 1}]},
    },
    {
        "key": "refunds-take-back",
        "name": "A Stripe refund or dispute takes back what the paid invoice earned",
        "triggers": ["payment_refunded"],
        "actions": [
            {
                "type": "reverse_grants",
                "params": {"of_event": "event.properties.invoice_paid_key"},
            }
        ],
    },
    {
        "key": "renewal-discount",
        "name": "The renewal discount goes on the renewal invoice (30 days ahead)",
        "triggers": ["renewal_upcoming"],
        "actions": [{"type": "apply_renewal_discount", "params": {}}],
    },
]


def _demo_rules(runtime: Runtime, now: datetime) -> None:
    """Active demo rules, through the same service as the API (so they are checked the same)."""
    validate = rule_validator(runtime.actions)
    with session_scope(runtime.engine, write=True) as session:
        for body in DEMO_RULES:
            rule = RuleCreate.model_validate({**body, "activate": True})
            create_rule(session, body=rule, actor="demo", now=now, validate=validate)


DEMO_TIERS = {
    "name": "Status",
    "grace_days": 30,
    "tiers": [
        {"key": "silver", "name": "Silver", "threshold": 2_000, "perks": ["priority_support"]},
        {
            "key": "gold",
            "name": "Gold",
            "threshold": 10_000,
            "multiplier_bps": 12_500,
            "renewal_discount_bps": 500,
            "perks": ["priority_support", "early_access"],
        },
        {
            "key": "platinum",
            "name": "Platinum",
            "threshold": 50_000,
            "multiplier_bps": 15_000,
            "renewal_discount_bps": 1_000,
            "perks": ["priority_support", "early_access", "free_upgrade"],
        },
    ],
}
DEMO_RENEWALS = {
    "combination": "best_of",
    "policies": [
        {
            "key": "year-one",
            "name": "Year-one renewal",
            "segment": "year-one",
            "discount_bps": 1_500,
        }
    ],
}
DEMO_REWARDS: list[dict[str, Any]] = [
    {
        "key": "credit-50",
        "name": "50 of account credit",
        "kind": "account_credit",
        "cost_points": 5_000,
        "fulfilment": {"amount_minor": 5_000, "currency": "usd"},
    },
    {
        "key": "early-access-reports",
        "name": "Early access: the new reports",
        "kind": "set_trait",
        "cost_points": 1_000,
        "fulfilment": {"trait": "custom.early_access_reports", "value": True},
        "segment": "high-adoption",
        "stock": 50,
        "per_customer_limit": 1,
    },
]


def _demo_programs(session: Session, now: datetime) -> None:
    """The tier program, renewal discounts and a small rewards catalog."""
    tiers.put_program(
        session, body=TierProgramFields.model_validate(DEMO_TIERS), actor="demo", now=now
    )
    renewals.put_program(
        session, body=RenewalProgramFields.model_validate(DEMO_RENEWALS), actor="demo", now=now
    )
    for item in DEMO_REWARDS:
        catalog.create_item(
            session, body=RewardItemCreate.model_validate(item), actor="demo", now=now
        )


def _demo_key(runtime: Runtime, now: datetime) -> str:
    with session_scope(runtime.engine, write=True) as session:
        _, key = auth.create_api_key(session, name=DEMO_KEY_NAME, role=Role.ADMIN, now=now)
    return key


def _chunks(items: list[_Story], size: int) -> Iterator[list[_Story]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _story(rng: random.Random, n: int, now: datetime, months: int) -> _Story:
    external_id = f"{DEMO_PREFIX}{n:04d}"
    plan = _pick(rng, PLAN_WEIGHTS)
    price, (lo, hi) = PLANS[plan]
    seats = rng.randint(lo, hi)
    country, tz, currency = rng.choice(PLACES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
    domain = company.lower().replace(" ", "") + ".example"
    # A third of the customers signed up before the window (they renew during it).
    history_days = months * 30
    age_days = (
        rng.randint(5, history_days) if rng.random() < 0.67 else rng.randint(history_days, 900)
    )
    signup_at = now - timedelta(days=age_days, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
    trial_days = rng.choice([0, 7, 14])
    subscribed_at = signup_at + timedelta(days=trial_days)
    converted = rng.random() < 0.9 or age_days < 20
    renewal_on = _next_anniversary(subscribed_at.date(), now.date()) if converted else None
    traits: dict[str, Any] = {
        "email": f"{first.lower()}.{last.lower().replace(' ', '')}@{domain}",
        "name": f"{first} {last}",
        "company": company,
        "plan": plan,
        "seats": seats,
        "mrr_minor": price * seats if converted else 0,
        "currency": currency,
        "role": _pick(rng, ROLES),
        "industry": rng.choice(INDUSTRIES),
        "country": country,
        "timezone": tz,
        "signup_at": signup_at.isoformat(),
        "lifecycle_stage": _stage(age_days, converted),
        "custom_traits": {
            "acquisition_channel": rng.choice(["organic", "paid", "partner", "referral"]),
            "employees": rng.choice([10, 50, 200, 1000, 5000]),
        },
    }
    if converted:
        traits["subscription_started_at"] = subscribed_at.isoformat()
        traits["renewal_on"] = renewal_on.isoformat() if renewal_on else None
        traits["billing_customer_id"] = f"cus_demo{n:04d}"
    story = _Story(external_id, traits)
    window_start = now - timedelta(days=history_days)
    _events(
        rng, story, signup_at, subscribed_at if converted else None, window_start, now, plan, seats
    )
    return story


def _stage(age_days: int, converted: bool) -> str:
    if not converted:
        return LifecycleStage.CONVERSION.value
    if age_days < 30:
        return LifecycleStage.ONBOARDING.value
    return LifecycleStage.RENEWAL.value if age_days > 330 else LifecycleStage.PURCHASE.value


def _next_anniversary(start: date, today: date) -> date:
    years = max(
        1,
        today.year
        - start.year
        + (1 if (today.month, today.day) >= (start.month, start.day) else 0),
    )
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def _events(
    rng: random.Random,
    story: _Story,
    signup_at: datetime,
    subscribed_at: datetime | None,
    window_start: datetime,
    now: datetime,
    plan: str,
    seats: int,
) -> None:
    def add(kind: str, at: datetime, **properties: Any) -> None:
        if window_start <= at <= now:
            key = f"{story.external_id}:{kind}:{len(story.events)}"
            story.events.append(
                {
                    "type": kind,
                    "customer_id": story.external_id,
                    "source": "demo",
                    "occurred_at": at.isoformat(),
                    "properties": properties,
                    "idempotency_key": key,
                }
            )

    add("signed_up", signup_at, channel=story.traits["custom_traits"]["acquisition_channel"])
    engaged = rng.random()
    # App analytics: days active in the last week (the usage-based demo segment reads it).
    add(
        "traits_updated",
        now - timedelta(hours=1),
        traits={"custom_traits": {"weekly_active_days": int(engaged * 7)}},
    )
    for step_no, step in enumerate(ONBOARDING_STEPS):
        if rng.random() < 0.55 + engaged * 0.45:
            add(
                "onboarding_step_completed",
                signup_at + timedelta(hours=2 + step_no * rng.randint(3, 30)),
                step=step,
            )
    if subscribed_at is None:
        return
    add("subscription_started", subscribed_at, plan=plan)
    price = PLANS[plan][0]
    day = max(subscribed_at, window_start)
    while day <= now:
        add(
            "invoice_paid",
            day + timedelta(hours=1),
            amount_minor=price * seats,
            currency=story.traits["currency"],
            period="month",
        )
        for _ in range(int(2 + engaged * 10)):
            at = day + timedelta(days=rng.uniform(0, 29))
            add(
                "feature_used",
                at,
                feature=rng.choice(FEATURES if engaged < 0.6 else MAIN_FEATURES + FEATURES),
            )
        if (day - subscribed_at).days >= 360 and (day - subscribed_at).days % 365 < 30:
            add("renewed", day + timedelta(hours=2), term="annual")
        if rng.random() < 0.04 and plan != "enterprise":
            plan = {"starter": "growth", "growth": "scale", "scale": "enterprise"}[plan]
            price = PLANS[plan][0]
            add("plan_changed", day + timedelta(days=3), plan=plan)
        if rng.random() < 0.08:
            seats = max(1, seats + rng.choice([-2, -1, 1, 2, 5]))
            add("seats_changed", day + timedelta(days=5), seats=seats)
        day += timedelta(days=30)
