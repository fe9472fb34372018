"""An in-memory billing gateway: the default without Stripe (demo), and the fake for tests.

It keeps Stripe's contract that matters to us: one effect per idempotency key, and the same key
with different parameters is an error. Failures can be scripted with `fail_next`.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from loyalty_engine.billing.gateway import BillingResult


class BillingError(Exception):
    """Raised by a scripted failure; `retryable` tells the delivery handler what to do."""

    def __init__(self, message: str, *, retryable: bool, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds


@dataclass
class InMemoryBillingGateway:
    name: str = "memory"
    balances: dict[str, int] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    _effects: dict[str, tuple[dict[str, Any], BillingResult]] = field(default_factory=dict)
    _failures: list[BillingError] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, times: int, error: BillingError) -> None:
        with self._lock:
            self._failures.extend([error] * times)

    @property
    def effects(self) -> int:
        """How many distinct effects were applied (repeats with one key count once)."""
        return len(self._effects)

    def apply_credit(
        self,
        *,
        billing_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        return self._effect(
            "credit",
            -amount_minor,
            billing_customer_id,
            idempotency_key,
            {"amount_minor": amount_minor, "currency": currency},
        )

    def reverse_credit(
        self,
        *,
        billing_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        return self._effect(
            "reversal",
            amount_minor,
            billing_customer_id,
            idempotency_key,
            {"amount_minor": amount_minor, "currency": currency},
        )

    def apply_renewal_discount(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        percent_off_bps: int,
        description: str,
        idempotency_key: str,
    ) -> BillingResult:
        return self._effect(
            "discount",
            0,
            billing_customer_id,
            idempotency_key,
            {"subscription_id": subscription_id, "percent_off_bps": percent_off_bps},
        )

    def _effect(
        self, op: str, balance_change: int, customer: str, key: str, params: dict[str, Any]
    ) -> BillingResult:
        request = {"op": op, "customer": customer, **params}
        with self._lock:
            self.calls.append({**request, "idempotency_key": key})
            if self._failures:
                raise self._failures.pop(0)
            if key in self._effects:
                seen, result = self._effects[key]
                if seen != request:
                    raise BillingError(
                        f"idempotency key {key!r} reused with other parameters", retryable=False
                    )
                return result
            self.balances[customer] = self.balances.get(customer, 0) + balance_change
            result = BillingResult(
                f"mem_{op}_{next(self._ids)}", params.get("amount_minor"), params.get("currency")
            )
            self._effects[key] = (request, result)
            return result
