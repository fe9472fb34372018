"""An in-memory billing gateway: the default without Stripe (demo), and the fake for tests.

It keeps Stripe's contract that matters to us: one effect per idempotency key, and the same key
with different parameters is an error. Failures can be scripted with `fail_next`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loyalty_engine.billing.gateway import BillingError, BillingResult, RemoteBalanceChange

__all__ = ["BillingError", "InMemoryBillingGateway"]


@dataclass
class InMemoryBillingGateway:
    name: str = "memory"
    balances: dict[str, int] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[RemoteBalanceChange]] = field(default_factory=dict)
    # subscription id -> price id, for free upgrades
    prices: dict[str, str] = field(default_factory=dict)
    # upgrade idempotency key -> (subscription id, previous price id): the way back
    upgrades: dict[str, tuple[str, str]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    _effects: dict[str, tuple[dict[str, Any], BillingResult]] = field(default_factory=dict)
    _failures: list[BillingError] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Stamps the recorded balance changes; tests pass their frozen clock's `now`.
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def fail_next(self, times: int, error: BillingError) -> None:
        with self._lock:
            self._failures.extend([error] * times)

    @property
    def effects(self) -> int:
        """How many distinct effects were applied (repeats with one key count once)."""
        return len(self._effects)

    def customer_currency(self, billing_customer_id: str) -> str | None:
        with self._lock:
            return self.currencies.get(billing_customer_id)

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
        return self._effect(
            "credit",
            -amount_minor,
            billing_customer_id,
            idempotency_key,
            {"amount_minor": amount_minor, "currency": currency},
            metadata,
        )

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
        return self._effect(
            "reversal",
            amount_minor,
            billing_customer_id,
            idempotency_key,
            {"amount_minor": amount_minor, "currency": currency},
            metadata,
        )

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
        subscription = subscription_id or f"mem_sub_{billing_customer_id}"
        with self._lock:
            previous = self.prices.get(subscription, "mem_price_base")
        result = self._effect(
            "upgrade",
            0,
            billing_customer_id,
            idempotency_key,
            {"subscription_id": subscription, "price_id": price_id, "months": months},
            details={"subscription_id": subscription, "previous_price_id": previous},
        )
        with self._lock:
            self.upgrades.setdefault(idempotency_key, (subscription, previous))
            self.prices[subscription] = price_id
        return result

    def revert_free_upgrade(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        upgrade_key: str,
        idempotency_key: str,
    ) -> BillingResult:
        with self._lock:
            subscription, previous = self.upgrades.get(upgrade_key, (subscription_id, None))
        result = self._effect(
            "revert",
            0,
            billing_customer_id,
            idempotency_key,
            {"subscription_id": subscription, "upgrade_key": upgrade_key},
        )
        with self._lock:
            if subscription is not None and previous is not None:
                self.prices[subscription] = previous
        return result

    def balance_changes(self, billing_customer_id: str) -> list[RemoteBalanceChange]:
        with self._lock:
            return list(self.changes.get(billing_customer_id, []))

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
        return self._effect(
            "discount",
            0,
            billing_customer_id,
            idempotency_key,
            {
                "subscription_id": subscription_id,
                "percent_off_bps": percent_off_bps,
                **({"invoice_id": invoice_id} if invoice_id is not None else {}),
            },
        )

    def _effect(
        self,
        op: str,
        balance_change: int,
        customer: str,
        key: str,
        params: dict[str, Any],
        metadata: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
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
            currency = params.get("currency")
            if currency is not None:
                known = self.currencies.setdefault(customer, currency)
                if known != currency:
                    raise BillingError(
                        f"currency {currency} differs from the customer's {known}",
                        retryable=False,
                    )
            self.balances[customer] = self.balances.get(customer, 0) + balance_change
            result = BillingResult(
                f"mem_{op}_{next(self._ids)}", params.get("amount_minor"), currency, details or {}
            )
            if balance_change and currency is not None:
                transfer = (metadata or {}).get("loyalty_transfer_id")
                self.changes.setdefault(customer, []).append(
                    RemoteBalanceChange(
                        result.external_id,
                        balance_change,
                        currency,
                        self.now(),
                        int(transfer) if transfer else None,
                    )
                )
            self._effects[key] = (request, result)
            return result
