"""The Stripe implementation of `BillingGateway`, on `stripe.StripeClient` (no global API key).

- Credits are negative customer balance transactions; taking one back is a positive one.
- A renewal discount is a `duration=once` coupon added to the subscription's discounts (the ones
  already there are kept), so it comes off the next invoice only.
- A free upgrade moves the subscription item to the better price with no proration and adds a
  repeating `amount_off` coupon worth the difference; the way back restores the previous price
  (kept in the subscription's metadata) and drops that coupon.
- Every write carries an idempotency key derived from our outbox row. A write made of several
  calls checks Stripe's state first (our coupon already on the subscription?) so that a retry after
  "Stripe succeeded but we never heard" completes instead of repeating.
- Writes go through a token bucket (default 25/s); Stripe's errors become `BillingError`s whose
  kind tells the outbox to retry (429 with Retry-After, 5xx, network), dead-letter (invalid
  request), or pause (authentication).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe
from stripe.params import (
    CouponCreateParams,
    InvoiceUpdateParamsDiscount,
    SubscriptionUpdateParamsDiscount,
    SubscriptionUpdateParamsItem,
)

from loyalty_engine.billing.gateway import (
    BillingError,
    BillingResult,
    FailureKind,
    RemoteBalanceChange,
)
from loyalty_engine.billing.throttle import Throttle

T = TypeVar("T")
TRANSFER_METADATA = "loyalty_transfer_id"
UPGRADE_METADATA = "loyalty_upgrade_key"
PREVIOUS_PRICE_METADATA = "loyalty_previous_price"
COUPON_NAME_MAX = 40  # Stripe's limit on a coupon's name


def make_client(
    api_key: str, *, api_base: str | None, timeout_seconds: float
) -> stripe.StripeClient:
    """A client of its own (never the SDK's global key). The SDK does not retry by itself: the
    outbox retries with the same idempotency key and honours Retry-After."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout_seconds),
    )


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        writes_per_second: float = 25.0,
        throttle: Throttle | None = None,
    ) -> None:
        self.client = client
        self.throttle = throttle or Throttle(writes_per_second)

    # -- reads ---------------------------------------------------------------------------------

    def customer_currency(self, billing_customer_id: str) -> str | None:
        customer = self._read(lambda: self.client.v1.customers.retrieve(billing_customer_id))
        return customer.currency.lower() if customer.currency else None

    def balance_changes(self, billing_customer_id: str) -> list[RemoteBalanceChange]:
        page = self._read(
            lambda: self.client.v1.customers.balance_transactions.list(
                billing_customer_id, params={"limit": 100}
            )
        )
        changes = [
            RemoteBalanceChange(
                external_id=txn.id,
                amount=txn.amount,
                currency=txn.currency.lower(),
                created_at=datetime.fromtimestamp(txn.created, UTC),
                transfer_id=_transfer_id(_metadata(txn.metadata)),
                description=txn.description or "",
            )
            for txn in self._read(lambda: list(page.auto_paging_iter()))
        ]
        # Stripe lists newest first; oldest first here (stable for changes in the same second).
        changes.reverse()
        return sorted(changes, key=lambda change: change.created_at)

    # -- credits -------------------------------------------------------------------------------

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
        return self._balance_change(
            billing_customer_id, -amount_minor, currency, description, idempotency_key, metadata
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
        return self._balance_change(
            billing_customer_id, amount_minor, currency, description, idempotency_key, metadata
        )

    def _balance_change(
        self,
        customer: str,
        amount: int,
        currency: str,
        description: str,
        key: str,
        metadata: dict[str, str] | None,
    ) -> BillingResult:
        if amount == 0:
            raise BillingError("a balance change of 0 is not a change", kind=FailureKind.PERMANENT)
        currency = currency.lower()
        known = self.customer_currency(customer)
        if known is not None and known != currency:
            # Stripe would refuse it too, but only after we asked: refuse before any write.
            raise BillingError(
                f"currency {currency} differs from the Stripe customer's currency {known}",
                kind=FailureKind.PERMANENT,
            )
        txn = self._write(
            lambda: self.client.v1.customers.balance_transactions.create(
                customer,
                params={
                    "amount": amount,
                    "currency": currency,
                    "description": description[:350],
                    "metadata": metadata or {},
                },
                options={"idempotency_key": key},
            )
        )
        return BillingResult(txn.id, abs(amount), currency, {"ending_balance": txn.ending_balance})

    # -- renewal discounts -----------------------------------------------------------------------

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
        if not 1 <= percent_off_bps <= 10_000:
            raise BillingError(
                f"percent_off_bps must be 1..10000, not {percent_off_bps}",
                kind=FailureKind.PERMANENT,
            )
        coupon_id = _coupon_id("renewal", idempotency_key)
        coupon: CouponCreateParams = {
            "id": coupon_id,
            # Stripe takes a decimal percentage; bps / 100 prints exactly (1550 -> 15.5).
            "percent_off": percent_off_bps / 100,
            "duration": "once",
            "name": description[:COUPON_NAME_MAX],
            "metadata": {"loyalty_idempotency_key": idempotency_key[:500]},
        }
        if invoice_id is not None:
            on_draft = self._discount_draft(
                billing_customer_id, invoice_id, coupon_id, coupon, idempotency_key
            )
            if on_draft is not None:
                return on_draft
        subscription = self._subscription(billing_customer_id, subscription_id)
        present = _discount_with_coupon(subscription, coupon_id)
        if present is not None:  # applied by an earlier attempt whose answer we lost
            return BillingResult(present, details={"subscription_id": subscription.id})
        self._coupon(coupon_id, coupon, idempotency_key)
        updated = self._add_discount(subscription, coupon_id, idempotency_key)
        return BillingResult(
            _discount_with_coupon(updated, coupon_id) or coupon_id,
            details={"subscription_id": updated.id, "coupon_id": coupon_id},
        )

    def _discount_draft(
        self,
        customer: str,
        invoice_id: str,
        coupon_id: str,
        coupon: CouponCreateParams,
        key: str,
    ) -> BillingResult | None:
        """The discount on a renewal invoice that is still a draft (Stripe's `invoice.created`
        comes too late for the subscription's discounts to reach it); None when it is no longer
        a draft, so that the subscription's next invoice gets it instead."""
        invoice = self._read(
            lambda: self.client.v1.invoices.retrieve(invoice_id, params={"expand": ["discounts"]})
        )
        if _id_of(invoice.customer) != customer:
            raise BillingError(
                f"invoice {invoice_id} belongs to another Stripe customer",
                kind=FailureKind.PERMANENT,
            )
        present = _discount_with_coupon(invoice, coupon_id)
        if present is not None:
            return BillingResult(present, details={"invoice_id": invoice_id})
        if invoice.status != "draft":
            return None
        self._coupon(coupon_id, coupon, key)
        existing = _discount_ids(invoice)
        discounts: list[InvoiceUpdateParamsDiscount] = [{"discount": d} for d in existing]
        digest = hashlib.sha256(",".join(existing).encode()).hexdigest()[:12]
        updated = self._write(
            lambda: self.client.v1.invoices.update(
                invoice_id,
                params={"discounts": [*discounts, {"coupon": coupon_id}], "expand": ["discounts"]},
                options={"idempotency_key": f"{key}:invoice:{digest}"},
            )
        )
        return BillingResult(
            _discount_with_coupon(updated, coupon_id) or coupon_id,
            details={"invoice_id": invoice_id, "coupon_id": coupon_id},
        )

    # -- free upgrades -------------------------------------------------------------------------

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
        subscription = self._subscription(billing_customer_id, subscription_id)
        metadata = _metadata(subscription.metadata)
        if metadata.get(UPGRADE_METADATA) == idempotency_key[:500]:
            return BillingResult(
                subscription.id,
                details={
                    "subscription_id": subscription.id,
                    "previous_price_id": metadata.get(PREVIOUS_PRICE_METADATA),
                },
            )
        item = subscription["items"].data[0]
        previous = item.price
        target = self._read(lambda: self.client.v1.prices.retrieve(price_id))
        if target.currency != previous.currency:
            raise BillingError(
                f"price {price_id} is in {target.currency}, "
                f"the subscription in {previous.currency}",
                kind=FailureKind.PERMANENT,
            )
        difference = (target.unit_amount or 0) - (previous.unit_amount or 0)
        if difference <= 0:
            raise BillingError(
                f"price {price_id} does not cost more than {previous.id}: not an upgrade",
                kind=FailureKind.PERMANENT,
            )
        coupon_id = _coupon_id("upgrade", idempotency_key)
        self._coupon(
            coupon_id,
            {
                "id": coupon_id,
                "amount_off": difference * (item.quantity or 1),
                "currency": target.currency,
                "duration": "repeating",
                "duration_in_months": months,
                "name": description[:COUPON_NAME_MAX],
                "metadata": {"loyalty_idempotency_key": idempotency_key[:500]},
            },
            idempotency_key,
        )
        kept: list[SubscriptionUpdateParamsDiscount] = [
            {"discount": d} for d in _discount_ids(subscription)
        ]
        items: list[SubscriptionUpdateParamsItem] = [{"id": item.id, "price": price_id}]
        updated = self._write(
            lambda: self.client.v1.subscriptions.update(
                subscription.id,
                params={
                    "items": items,
                    "proration_behavior": "none",
                    "discounts": [*kept, {"coupon": coupon_id}],
                    "metadata": {
                        UPGRADE_METADATA: idempotency_key[:500],
                        PREVIOUS_PRICE_METADATA: previous.id,
                    },
                },
                options={"idempotency_key": f"{idempotency_key}:subscription"},
            )
        )
        return BillingResult(
            updated.id,
            details={"subscription_id": updated.id, "previous_price_id": previous.id},
        )

    def revert_free_upgrade(
        self,
        *,
        billing_customer_id: str,
        subscription_id: str | None,
        upgrade_key: str,
        idempotency_key: str,
    ) -> BillingResult:
        subscription = self._upgraded_subscription(
            billing_customer_id, subscription_id, upgrade_key
        )
        if subscription is None:  # already back (or never upgraded): nothing to undo
            return BillingResult(subscription_id or "", details={"reverted": False})
        previous_price_id = _metadata(subscription.metadata)[PREVIOUS_PRICE_METADATA]
        item = subscription["items"].data[0]
        ours = _discount_with_coupon(subscription, _coupon_id("upgrade", upgrade_key))
        kept: list[SubscriptionUpdateParamsDiscount] = [
            {"discount": d} for d in _discount_ids(subscription) if d != ours
        ]
        items: list[SubscriptionUpdateParamsItem] = [{"id": item.id, "price": previous_price_id}]
        updated = self._write(
            lambda: self.client.v1.subscriptions.update(
                subscription.id,
                params={
                    "items": items,
                    "proration_behavior": "none",
                    "discounts": kept or "",
                    "metadata": {UPGRADE_METADATA: "", PREVIOUS_PRICE_METADATA: ""},
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        return BillingResult(
            updated.id,
            details={"subscription_id": updated.id, "previous_price_id": previous_price_id},
        )

    def _upgraded_subscription(
        self, customer: str, subscription_id: str | None, upgrade_key: str
    ) -> stripe.Subscription | None:
        """The customer's subscription that still carries the upgrade made under `upgrade_key`."""
        if subscription_id is not None:
            candidates = [self._subscription(customer, subscription_id)]
        else:
            page = self._read(
                lambda: self.client.v1.subscriptions.list(
                    params={"customer": customer, "limit": 100, "expand": ["data.discounts"]}
                )
            )
            candidates = list(page.data)
        for subscription in candidates:
            if _metadata(subscription.metadata).get(UPGRADE_METADATA) == upgrade_key[:500]:
                return subscription
        return None

    # -- helpers -------------------------------------------------------------------------------

    def _subscription(self, customer: str, subscription_id: str | None) -> stripe.Subscription:
        """The given subscription (it must be the customer's), else the customer's active one
        that renews first."""
        if subscription_id is not None:
            found = self._read(
                lambda: self.client.v1.subscriptions.retrieve(
                    subscription_id, params={"expand": ["discounts"]}
                )
            )
            if _id_of(found.customer) != customer:
                raise BillingError(
                    f"subscription {subscription_id} belongs to another Stripe customer",
                    kind=FailureKind.PERMANENT,
                )
            return found
        page = self._read(
            lambda: self.client.v1.subscriptions.list(
                params={
                    "customer": customer,
                    "status": "active",
                    "limit": 100,
                    "expand": ["data.discounts"],
                }
            )
        )
        active = list(page.data)
        if not active:
            raise BillingError(
                f"Stripe customer {customer} has no active subscription",
                kind=FailureKind.PERMANENT,
            )
        return min(active, key=lambda s: (_period_end(s), s.id))

    def _coupon(self, coupon_id: str, params: CouponCreateParams, key: str) -> None:
        try:
            self._write(
                lambda: self.client.v1.coupons.create(
                    params=params, options={"idempotency_key": f"{key}:coupon"}
                )
            )
        except BillingError:
            # Made by an attempt under another key (e.g. before an idempotency window ended)?
            try:
                self._read(lambda: self.client.v1.coupons.retrieve(coupon_id))
            except BillingError:
                pass
            else:
                return
            raise

    def _add_discount(
        self, subscription: stripe.Subscription, coupon_id: str, key: str
    ) -> stripe.Subscription:
        existing = _discount_ids(subscription)
        discounts: list[SubscriptionUpdateParamsDiscount] = [{"discount": d} for d in existing]
        # The key names the discounts kept: a retry that sees the same ones replays the request,
        # one that sees other ones (changed meanwhile) is a new request, not an idempotency error.
        kept_digest = hashlib.sha256(",".join(existing).encode()).hexdigest()[:12]
        return self._write(
            lambda: self.client.v1.subscriptions.update(
                subscription.id,
                params={
                    "discounts": [*discounts, {"coupon": coupon_id}],
                    "expand": ["discounts"],
                },
                options={"idempotency_key": f"{key}:subscription:{kept_digest}"},
            )
        )

    def _read(self, call: Callable[[], T]) -> T:
        return _mapped(call)

    def _write(self, call: Callable[[], T]) -> T:
        self.throttle.acquire()
        return _mapped(call)


def _mapped(call: Callable[[], T]) -> T:
    """Stripe's errors as outcomes the outbox understands."""
    try:
        return call()
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise BillingError(
            f"Stripe refused our credentials: {_message(exc)}", kind=FailureKind.AUTHENTICATION
        ) from exc
    except stripe.RateLimitError as exc:
        raise BillingError(
            f"Stripe rate limit: {_message(exc)}",
            kind=FailureKind.RETRY,
            retry_after_seconds=_retry_after(exc),
        ) from exc
    except stripe.APIConnectionError as exc:
        raise BillingError(
            f"no answer from Stripe: {_message(exc)}", kind=FailureKind.RETRY
        ) from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if status >= 500 or status in (409, 429) or isinstance(exc, stripe.APIError):
            raise BillingError(
                f"Stripe answered {status or 'an error'}: {_message(exc)}",
                kind=FailureKind.RETRY,
                retry_after_seconds=_retry_after(exc),
            ) from exc
        raise BillingError(f"Stripe: {_message(exc)}", kind=FailureKind.PERMANENT) from exc


def _message(exc: stripe.StripeError) -> str:
    return str(exc.user_message or exc._message or type(exc).__name__)


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _coupon_id(purpose: str, key: str) -> str:
    return f"loyalty-{purpose}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value.id)


def _discount_ids(subscription: stripe.Subscription | stripe.Invoice) -> list[str]:
    return [d for d in (_id_of(d) for d in subscription.discounts or []) if d is not None]


def _discount_with_coupon(
    subscription: stripe.Subscription | stripe.Invoice, coupon_id: str
) -> str | None:
    """The id of the subscription's discount made from `coupon_id` (discounts expanded)."""
    for discount in subscription.discounts or []:
        if isinstance(discount, str):
            continue
        source = getattr(discount, "source", None)
        coupon = getattr(source, "coupon", None) if source is not None else None
        if coupon is None:
            coupon = getattr(discount, "coupon", None)  # API versions before 2025
        if _id_of(coupon) == coupon_id:
            return str(discount.id)
    return None


def _period_end(subscription: stripe.Subscription) -> int:
    ends = [
        item.current_period_end
        for item in subscription["items"].data
        if getattr(item, "current_period_end", None)
    ]
    return min(ends) if ends else 2**62


def _metadata(value: Any) -> dict[str, str]:
    """Stripe objects are not dicts since SDK v15: metadata as a plain dict."""
    if value is None:
        return {}
    return {str(k): str(v) for k, v in value.to_dict().items()}


def _transfer_id(metadata: dict[str, str] | None) -> int | None:
    value = (metadata or {}).get(TRANSFER_METADATA)
    return int(value) if value and value.isdigit() else None
