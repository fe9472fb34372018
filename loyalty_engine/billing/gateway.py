"""The billing gateway protocol: what the engine asks of a billing system (Stripe first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BillingResult:
    """What the billing system answered: its own id for the effect, for reconciliation."""

    external_id: str
    amount_minor: int | None = None
    currency: str | None = None


class BillingGateway(Protocol):
    """Every call carries an idempotency key; repeating a call with the same key has one effect."""

    name: str

    def apply_credit(
        self,
        *,
        billing_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        """Credit the customer's balance (applied to their next invoice)."""
        ...

    def reverse_credit(
        self,
        *,
        billing_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        """Take back a credit (a positive balance adjustment)."""
        ...

    def apply_renewal_discount(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        percent_off_bps: int,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        """A one-time percentage discount on the next renewal invoice."""
        ...
