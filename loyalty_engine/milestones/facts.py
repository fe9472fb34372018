"""Lifecycle facts for rule conditions: `customer.milestones` (keys of the milestones achieved,
archived ones included) and `customer.renewals` (how many `renewed` events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.milestones.models import CustomerRenewals, Milestone, MilestoneAchievement

ACHIEVEMENTS = MilestoneAchievement.__table__  # type: ignore[attr-defined]
MILESTONES = Milestone.__table__  # type: ignore[attr-defined]
RENEWALS = CustomerRenewals.__table__  # type: ignore[attr-defined]


def milestone_facts(session: Session, customers: dict[int, dict[str, Any]], _: datetime) -> None:
    """As they are now (a replay of the past reads today's, as balances do)."""
    ids = list(customers)
    for facts in customers.values():
        facts["milestones"] = []
        facts["renewals"] = 0
    achieved = (
        select(ACHIEVEMENTS.c.customer_id, MILESTONES.c.key)
        .join(MILESTONES, MILESTONES.c.id == ACHIEVEMENTS.c.milestone_id)
        .where(ACHIEVEMENTS.c.customer_id.in_(ids))
        .order_by(ACHIEVEMENTS.c.customer_id, MILESTONES.c.key)
    )
    for customer_id, key in session.execute(achieved):
        customers[customer_id]["milestones"].append(key)
    renewals = select(RENEWALS.c.customer_id, RENEWALS.c.renewals).where(
        RENEWALS.c.customer_id.in_(ids)
    )
    for customer_id, count in session.execute(renewals):
        customers[customer_id]["renewals"] = int(count)
