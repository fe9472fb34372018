"""Every table of the engine, imported in one place for Alembic and for tests."""

from sqlmodel import SQLModel

from loyalty_engine.audit.models import AuditEntry
from loyalty_engine.auth.models import ApiKey, InstanceSecret
from loyalty_engine.customers.models import Customer
from loyalty_engine.events.models import Event
from loyalty_engine.leadership import SchedulerLeader
from loyalty_engine.outbox.models import OutboxMessage
from loyalty_engine.rules.models import ConfigGeneration, Decision, Rule, RuleBudget, RuleVersion
from rewards.models import LedgerAccount, LedgerAllocation, LedgerEntry, LedgerLot

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "ConfigGeneration",
    "Customer",
    "Decision",
    "Event",
    "InstanceSecret",
    "LedgerAccount",
    "LedgerAllocation",
    "LedgerEntry",
    "LedgerLot",
    "OutboxMessage",
    "Rule",
    "RuleBudget",
    "RuleVersion",
    "SchedulerLeader",
    "metadata",
]
