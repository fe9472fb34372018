"""Demo segments: the three kinds the product documents name (usage, role, lifecycle), saved
through the same services as the API, once (a second load changes nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.segments.declarations import declare_trait
from loyalty_engine.segments.models import Segment, TraitKind
from loyalty_engine.segments.queries import declared_kinds
from loyalty_engine.segments.schemas import CustomTraitPut, SegmentCreate
from loyalty_engine.segments.service import create_segment

DEMO_ACTOR = "demo"
# App analytics report how many days of the last week each customer was active.
USAGE_TRAIT = "weekly_active_days"
DEMO_SEGMENTS: list[dict[str, Any]] = [
    {
        "key": "high-adoption",
        "name": "High adoption",
        "description": "Usage-based (app analytics): active at least 4 days a week. For tips.",
        "condition": {">=": [{"var": f"customer.custom.{USAGE_TRAIT}"}, 4]},
    },
    {
        "key": "administrators",
        "name": "Administrators",
        "description": "Role-based (sign-up form): the account's admins. For manager dashboards.",
        "condition": {"==": [{"var": "customer.role"}, "admin"]},
    },
    {
        "key": "year-one",
        "name": "Year-one customers",
        "description": "Lifecycle-based (subscription date): subscribed less than a year ago. "
        "For renewal discounts.",
        # A customer who never subscribed reads as subscribed in 1970: not in year one.
        "condition": {
            "<": [
                {"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]},
                365 * 86_400,
            ]
        },
    },
]


def load_demo_segments(session: Session, *, now: datetime) -> list[str]:
    """Declare the usage trait and save the demo segments that do not exist yet; their keys."""
    if USAGE_TRAIT not in declared_kinds(session):
        usage = CustomTraitPut(
            kind=TraitKind.INTEGER, description="days active in the last 7, from app analytics"
        )
        declare_trait(session, name=USAGE_TRAIT, body=usage, actor=DEMO_ACTOR, now=now)
    existing = set(session.execute(select(col(Segment.key))).scalars())
    created = []
    for body in DEMO_SEGMENTS:
        if body["key"] not in existing:
            create_segment(
                session, body=SegmentCreate.model_validate(body), actor=DEMO_ACTOR, now=now
            )
            created.append(body["key"])
    return created
