"""Milestones: definitions (counted steps, a condition, or a grant), per-customer progress,
achievements recorded once and announced as `milestone_achieved`, and the lifecycle facts
`customer.milestones` and `customer.renewals` that the loyalty stage needs."""

from loyalty_engine.milestones.actions import GrantMilestone, register_milestone_actions
from loyalty_engine.milestones.announce import (
    MILESTONE_ACHIEVED,
    Achieved,
    MilestoneAnnouncer,
    publisher,
)
from loyalty_engine.milestones.catalog import MilestoneBook, MilestoneCatalog
from loyalty_engine.milestones.facts import milestone_facts
from loyalty_engine.milestones.models import (
    AchievedBy,
    CustomerRenewals,
    Milestone,
    MilestoneAchievement,
    MilestoneStepCount,
)
from loyalty_engine.milestones.progress import Fraction, Progress, progress, required_count
from loyalty_engine.milestones.reactor import MilestoneReactor

__all__ = [
    "MILESTONE_ACHIEVED",
    "Achieved",
    "AchievedBy",
    "CustomerRenewals",
    "Fraction",
    "GrantMilestone",
    "Milestone",
    "MilestoneAchievement",
    "MilestoneAnnouncer",
    "MilestoneBook",
    "MilestoneCatalog",
    "MilestoneReactor",
    "MilestoneStepCount",
    "Progress",
    "milestone_facts",
    "progress",
    "publisher",
    "register_milestone_actions",
    "required_count",
]
