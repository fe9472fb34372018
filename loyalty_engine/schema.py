"""Every table of the engine, imported in one place for Alembic and for tests."""

from sqlmodel import SQLModel

from loyalty_engine.audit.models import AuditEntry
from loyalty_engine.auth.models import ApiKey, InstanceSecret
from loyalty_engine.billing.inbox.models import StripeWebhookEvent
from loyalty_engine.billing.models import BillingAlert, BillingTransfer
from loyalty_engine.customers.models import Customer
from loyalty_engine.events.models import Event
from loyalty_engine.leadership import SchedulerLeader
from loyalty_engine.milestones.models import (
    CustomerRenewals,
    Milestone,
    MilestoneAchievement,
    MilestoneStepCount,
)
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.rules.models import ConfigGeneration, Decision, Rule, RuleBudget, RuleVersion
from loyalty_engine.segments.models import CustomTraitDeclaration, Segment
from rewards.catalog.models import RewardItem, RewardRedemption
from rewards.models import LedgerAccount, LedgerAllocation, LedgerEntry, LedgerLot
from rewards.renewals.models import RenewalApplication, RenewalProgram
from rewards.tiers.models import CustomerTier, TierChange, TierProgram

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "BillingAlert",
    "BillingTransfer",
    "ConfigGeneration",
    "CustomTraitDeclaration",
    "Customer",
    "CustomerRenewals",
    "CustomerTier",
    "Decision",
    "Event",
    "InstanceSecret",
    "LedgerAccount",
    "LedgerAllocation",
    "LedgerEntry",
    "LedgerLot",
    "Milestone",
    "MilestoneAchievement",
    "MilestoneStepCount",
    "OutboxMessage",
    "RenewalApplication",
    "RenewalProgram",
    "RewardItem",
    "RewardRedemption",
    "Rule",
    "RuleBudget",
    "RuleVersion",
    "SchedulerLeader",
    "Segment",
    "StripeWebhookEvent",
    "TierChange",
    "TierProgram",
    "metadata",
]
