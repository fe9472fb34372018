"""Billing: the gateway protocol, its in-memory implementation, and the outbox kinds it delivers."""

from loyalty_engine.billing.gateway import BillingGateway, BillingResult
from loyalty_engine.billing.memory import BillingError, InMemoryBillingGateway

__all__ = ["BillingError", "BillingGateway", "BillingResult", "InMemoryBillingGateway"]
