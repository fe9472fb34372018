"""Demo milestones and the rules that move lifecycle stages, defined through the same services as
the API (so they are checked the same). Load them before the demo's events: events count toward
milestones from the moment a milestone exists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalty_engine.milestones import service
from loyalty_engine.milestones.models import Milestone
from loyalty_engine.milestones.schemas import MilestoneCreate
from loyalty_engine.rules.models import Rule
from loyalty_engine.rules.schemas import RuleCreate
from loyalty_engine.rules.service import create_rule
from loyalty_engine.rules.validation import rule_validator
from loyalty_engine.runtime import Runtime

# The step and feature names the demo's `onboarding_step_completed` and `feature_used` carry.
ONBOARDING_STEPS = ("invite_team", "connect_data", "first_dashboard", "set_alerts", "install_app")
MAIN_FEATURES = ("dashboards", "reports", "automations")
DAY = 86_400
ACTOR = "demo"


def _is(fact: str, value: Any) -> dict[str, Any]:
    return {"==": [{"var": fact}, value]}


def demo_milestones(main_features: str) -> list[dict[str, Any]]:
    """The four milestones the product documents name; `main_features` is the configured key."""
    since_purchase = {
        "-": [{"var": "event.occurred_at"}, {"var": "customer.subscription_started_at"}]
    }
    return [
        {
            "key": "onboarding_complete",
            "name": "Onboarding complete",
            "description": "At least 80% of the onboarding steps done.",
            "steps": [
                {
                    "key": step,
                    "event": "onboarding_step_completed",
                    "condition": _is("event.properties.step", step),
                }
                for step in ONBOARDING_STEPS
            ],
            "required_bps": 8_000,
        },
        {
            "key": "first_value",
            "name": "First value within 24 hours",
            "description": "A feature used within a day of the subscription starting.",
            "steps": [
                {
                    "key": "feature_within_a_day",
                    "name": "Used a feature within 24 hours of purchase",
                    "event": "feature_used",
                    "condition": {"<=": [0, since_purchase, DAY]},
                }
            ],
        },
        {
            "key": "renewed_once",
            "name": "Renewed at least once",
            "condition": {">=": [{"var": "customer.renewals"}, 1]},
        },
        {
            "key": main_features,
            "name": "Main features used",
            "description": "Each main feature used three times.",
            "steps": [
                {
                    "key": feature,
                    "event": "feature_used",
                    "condition": _is("event.properties.feature", feature),
                    "count": 3,
                }
                for feature in MAIN_FEATURES
            ],
        },
    ]


def _stage_in(*stages: str) -> dict[str, Any]:
    return {"in": [{"var": "customer.lifecycle_stage"}, list(stages)]}


def _set_stage(stage: str) -> list[dict[str, Any]]:
    return [{"type": "set_stage", "params": {"stage": stage}}]


# Stages only move forward; loyalty is tried on every achievement and renewal, and `set_stage`
# refuses it (saying why, in the decision) until the customer renewed and uses the main features.
STAGE_RULES: list[dict[str, Any]] = [
    {
        "key": "stage-purchase",
        "name": "Purchase stage when the subscription starts",
        "triggers": ["subscription_started"],
        "condition": _stage_in("awareness", "conversion"),
        "actions": _set_stage("purchase"),
        "priority": 10,
    },
    {
        "key": "stage-onboarding",
        "name": "Onboarding stage at the first onboarding step after purchase",
        "triggers": ["onboarding_step_completed"],
        "condition": {
            "and": [
                _stage_in("purchase"),
                {">=": [{"var": "event.occurred_at"}, {"var": "customer.subscription_started_at"}]},
            ]
        },
        "actions": _set_stage("onboarding"),
        "priority": 10,
    },
    {
        "key": "stage-renewal",
        "name": "Renewal stage when the customer renews",
        "triggers": ["renewed"],
        "condition": _stage_in("purchase", "onboarding"),
        "actions": _set_stage("renewal"),
        "priority": 10,
    },
    {
        "key": "stage-loyalty",
        "name": "Loyalty stage once renewed and using the main features",
        "triggers": ["milestone_achieved", "renewed"],
        "condition": {"!=": [{"var": "customer.lifecycle_stage"}, "loyalty"]},
        "actions": _set_stage("loyalty"),
        "priority": 20,
    },
    {
        "key": "onboarding-complete-bonus",
        "name": "1,000 points for completing onboarding",
        "triggers": ["milestone_achieved"],
        "condition": _is("event.properties.milestone", "onboarding_complete"),
        "actions": [{"type": "award_points", "params": {"points": 1_000}}],
        "limits": {"per_customer": [{"count": 1}]},
    },
]


def load_demo_milestones(session: Session, *, now: datetime, runtime: Runtime) -> list[str]:
    """Define what is missing (a second load changes nothing); the keys defined."""
    defined: list[str] = []
    main_features = runtime.settings.main_features_milestone
    for body in demo_milestones(main_features):
        if _exists(session, col(Milestone.key), body["key"]):
            continue
        milestone = MilestoneCreate.model_validate(body)
        service.create_milestone(session, body=milestone, actor=ACTOR, now=now)
        defined.append(body["key"])
    validate = rule_validator(runtime.actions)
    for rule in STAGE_RULES:
        if _exists(session, col(Rule.key), rule["key"]):
            continue
        create_rule(
            session,
            body=RuleCreate.model_validate({**rule, "activate": True}),
            actor=ACTOR,
            now=now,
            validate=validate,
        )
        defined.append(rule["key"])
    return defined


def _exists(session: Session, column: Any, key: str) -> bool:
    return session.execute(select(column).where(column == key)).first() is not None
