"""Billing: the gateway protocol, its in-memory and Stripe implementations, the outbox kinds it
delivers, and the Stripe webhook inbox."""

from loyalty_engine.billing.gateway import BillingError, BillingGateway, BillingResult, FailureKind
from loyalty_engine.billing.memory import InMemoryBillingGateway

__all__ = [
    "BillingError",
    "BillingGateway",
    "BillingResult",
    "FailureKind",
    "InMemoryBillingGateway",
]
