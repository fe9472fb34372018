"""The billing gateway protocol: what the engine asks of a billing system (Stripe first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class FailureKind(StrEnum):
    """How a billing failure is handled by the outbox."""

    RETRY = "retry"  # rate limits, 5xx, timeouts: later, with backoff (Retry-After honoured)
    PERMANENT = "permanent"  # the request itself is wrong: dead-letter with the system's message
    AUTHENTICATION = "authentication"  # our credentials are refused: pause delivery, raise an alert


class BillingError(Exception):
    """A billing call that failed, and what to do about it."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        kind: FailureKind | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind or (FailureKind.RETRY if retryable else FailureKind.PERMANENT)
        self.retry_after_seconds = retry_after_seconds

    @property
    def retryable(self) -> bool:
        return self.kind is FailureKind.RETRY


@dataclass(frozen=True, slots=True)
class BillingResult:
    """What the billing system answered: its own id for the effect, for reconciliation."""

    external_id: str
    amount_minor: int | None = None
    currency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RemoteBalanceChange:
    """One change of a billing customer's balance, as the billing system records it. `amount` has
    Stripe's sign: negative credits the customer, positive takes a credit back."""

    external_id: str
    amount: int
    currency: str
    created_at: datetime
    # Our transfer id when the change was made by this engine (from its metadata), else None.
    transfer_id: int | None
    description: str = ""


class BillingGateway(Protocol):
    """Every write carries an idempotency key; repeating a call with the same key has one effect."""

    name: str

    def customer_currency(self, billing_customer_id: str) -> str | None:
        """The billing customer's currency (lowercase), None while it has none."""
        ...

    def apply_credit(
        self,
        *,
        billing_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
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
        metadata: dict[str, str] | None = None,
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
        invoice_id: str | None = None,
    ) -> BillingResult:
        """A one-time percentage discount on the next renewal invoice: on `invoice_id` itself
        while that invoice is still a draft, else on the subscription's next invoice."""
        ...

    def apply_free_upgrade(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        price_id: str,
        months: int,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        """Move the subscription to `price_id` at the old price for `months` months; the result's
        details say how to go back (`subscription_id`, `previous_price_id`)."""
        ...

    def revert_free_upgrade(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        upgrade_key: str,
        idempotency_key: str,
    ) -> BillingResult:
        """The way back from the free upgrade made with idempotency key `upgrade_key`: the
        previous price again, without the upgrade's discount. Nothing to do when already back."""
        ...

    def balance_changes(self, billing_customer_id: str) -> list[RemoteBalanceChange]:
        """Every balance change of the billing customer, oldest first (for reconciliation)."""
        ...
