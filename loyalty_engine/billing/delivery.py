"""Outbox kinds that reach the billing gateway, and how their failures map to outcomes."""

from __future__ import annotations

from typing import Any

from loyalty_engine.billing.gateway import BillingGateway, BillingResult
from loyalty_engine.billing.memory import BillingError
from loyalty_engine.outbox.delivery import (
    Delivery,
    DeliveryRegistry,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

APPLY_CREDIT = "billing.apply_credit"
REVERSE_CREDIT = "billing.reverse_credit"
APPLY_RENEWAL_DISCOUNT = "billing.apply_renewal_discount"


def register_billing_deliveries(registry: DeliveryRegistry, gateway: BillingGateway) -> None:
    def apply_credit(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return _call(
            lambda: gateway.apply_credit(
                billing_customer_id=p["billing_customer_id"],
                amount_minor=p["amount_minor"],
                currency=p["currency"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
            )
        )

    def reverse_credit(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return _call(
            lambda: gateway.reverse_credit(
                billing_customer_id=p["billing_customer_id"],
                amount_minor=p["amount_minor"],
                currency=p["currency"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
            )
        )

    def apply_renewal_discount(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return _call(
            lambda: gateway.apply_renewal_discount(
                billing_customer_id=p["billing_customer_id"],
                subscription_id=p.get("subscription_id"),
                percent_off_bps=p["percent_off_bps"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
            )
        )

    registry.register(APPLY_CREDIT, apply_credit)
    registry.register(REVERSE_CREDIT, reverse_credit)
    registry.register(APPLY_RENEWAL_DISCOUNT, apply_renewal_discount)


def _call(effect: Any) -> dict[str, Any]:
    try:
        result: BillingResult = effect()
    except BillingError as exc:
        if exc.retryable:
            raise RetryableDeliveryError(
                str(exc), retry_after_seconds=exc.retry_after_seconds
            ) from exc
        raise PermanentDeliveryError(str(exc)) from exc
    return {
        "external_id": result.external_id,
        "amount_minor": result.amount_minor,
        "currency": result.currency,
    }
