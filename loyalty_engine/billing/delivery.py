"""Outbox kinds that reach the billing gateway, and how their failures map to outcomes.

- Retryable failures (429 with Retry-After, 5xx, no answer) are retried with backoff.
- Permanent ones (an invalid request) dead-letter with the billing system's message.
- Authentication failures pause billing delivery: an alert is raised (read by /readyz and the
  console), messages wait without spending attempts, and one message probes the billing system
  per `pause_probe_seconds`; the first success clears the alert.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from loyalty_engine.billing import alerts
from loyalty_engine.billing.gateway import BillingError, BillingGateway, BillingResult, FailureKind
from loyalty_engine.billing.models import BillingTransfer, TransferStatus
from loyalty_engine.db import session_scope
from loyalty_engine.outbox.delivery import (
    Delivery,
    DeliveryPaused,
    DeliveryRegistry,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

APPLY_CREDIT = "billing.apply_credit"
REVERSE_CREDIT = "billing.reverse_credit"
APPLY_RENEWAL_DISCOUNT = "billing.apply_renewal_discount"
APPLY_FREE_UPGRADE = "billing.apply_free_upgrade"
REVERT_FREE_UPGRADE = "billing.revert_free_upgrade"
TRANSFERS = BillingTransfer.__table__  # type: ignore[attr-defined]


class _Pause:
    """This process's view of the gateway's alert, so that a paused gateway is probed once per
    interval instead of once per message."""

    def __init__(self, engine: Engine, gateway: str, now: Callable[[], datetime], probe: float):
        self.engine, self.gateway, self.now = engine, gateway, now
        self.probe = timedelta(seconds=probe)
        self.lock = threading.Lock()
        self.last_probe: datetime | None = None
        self.reason: str | None = None
        self.known = False  # whether `reason` reflects the database yet

    def check(self) -> None:
        """Raise DeliveryPaused unless this call may go to the billing system."""
        with self.lock:
            if not self.known:
                with session_scope(self.engine, write=False) as session:
                    found = [a for a in alerts.open_alerts(session) if a.gateway == self.gateway]
                self.reason = found[0].message if found else None
                self.known = True
            if self.reason is None:
                return
            now = self.now()
            if self.last_probe is not None and now - self.last_probe < self.probe:
                raise DeliveryPaused(f"billing paused: {self.reason}")
            self.last_probe = now  # this call is the probe

    def failed(self, message: str) -> None:
        with self.lock:
            self.reason, self.known, self.last_probe = message, True, self.now()
        with session_scope(self.engine, write=True) as session:
            alerts.raise_alert(
                session,
                gateway=self.gateway,
                kind=FailureKind.AUTHENTICATION.value,
                message=message,
                now=self.now(),
            )

    def succeeded(self) -> None:
        with self.lock:
            if self.known and self.reason is None:
                return
            self.reason, self.known = None, True
        with session_scope(self.engine, write=True) as session:
            alerts.clear_alert(session, gateway=self.gateway, now=self.now())


def register_billing_deliveries(
    registry: DeliveryRegistry,
    gateway: BillingGateway,
    *,
    engine: Engine,
    now: Callable[[], datetime],
    pause_probe_seconds: float = 60.0,
) -> None:
    pause = _Pause(engine, gateway.name, now, pause_probe_seconds)

    def call(effect: Callable[[], BillingResult]) -> dict[str, Any]:
        pause.check()
        try:
            result = effect()
        except BillingError as exc:
            if exc.kind is FailureKind.AUTHENTICATION:
                pause.failed(str(exc))
                raise DeliveryPaused(str(exc)) from exc
            if exc.kind is FailureKind.RETRY:
                raise RetryableDeliveryError(
                    str(exc), retry_after_seconds=exc.retry_after_seconds
                ) from exc
            raise PermanentDeliveryError(str(exc)) from exc
        pause.succeeded()
        return {
            "external_id": result.external_id,
            "amount_minor": result.amount_minor,
            "currency": result.currency,
            **({"details": result.details} if result.details else {}),
        }

    def transfer_metadata(p: dict[str, Any]) -> dict[str, str] | None:
        transfer_id = p.get("transfer_id")
        if transfer_id is None:
            return None
        with session_scope(engine, write=False) as session:
            status = session.execute(
                select(TRANSFERS.c.status).where(TRANSFERS.c.id == transfer_id)
            ).scalar_one_or_none()
        if status == TransferStatus.RETURNED:
            # Given back to the ledger after it failed: sending it now would pay it twice.
            raise PermanentDeliveryError(
                f"transfer {transfer_id} was returned to the ledger; it is not sent again"
            )
        return {"loyalty_transfer_id": str(transfer_id), "loyalty_customer": str(p["customer"])}

    def apply_credit(d: Delivery) -> dict[str, Any]:
        p = d.payload
        metadata = transfer_metadata(p)
        return call(
            lambda: gateway.apply_credit(
                billing_customer_id=p["billing_customer_id"],
                amount_minor=p["amount_minor"],
                currency=p["currency"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
                metadata=metadata,
            )
        )

    def reverse_credit(d: Delivery) -> dict[str, Any]:
        p = d.payload
        metadata = transfer_metadata(p)
        return call(
            lambda: gateway.reverse_credit(
                billing_customer_id=p["billing_customer_id"],
                amount_minor=p["amount_minor"],
                currency=p["currency"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
                metadata=metadata,
            )
        )

    def apply_renewal_discount(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return call(
            lambda: gateway.apply_renewal_discount(
                billing_customer_id=p["billing_customer_id"],
                subscription_id=p.get("subscription_id"),
                percent_off_bps=p["percent_off_bps"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
                invoice_id=p.get("invoice_id"),
            )
        )

    def apply_free_upgrade(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return call(
            lambda: gateway.apply_free_upgrade(
                billing_customer_id=p["billing_customer_id"],
                subscription_id=p.get("subscription_id"),
                price_id=p["price_id"],
                months=p["months"],
                description=p.get("description", ""),
                idempotency_key=d.idempotency_key,
            )
        )

    def revert_free_upgrade(d: Delivery) -> dict[str, Any]:
        p = d.payload
        return call(
            lambda: gateway.revert_free_upgrade(
                billing_customer_id=p["billing_customer_id"],
                subscription_id=p.get("subscription_id"),
                upgrade_key=p["upgrade_key"],
                idempotency_key=d.idempotency_key,
            )
        )

    registry.register(APPLY_CREDIT, apply_credit)
    registry.register(REVERSE_CREDIT, reverse_credit)
    registry.register(APPLY_RENEWAL_DISCOUNT, apply_renewal_discount)
    registry.register(APPLY_FREE_UPGRADE, apply_free_upgrade)
    registry.register(REVERT_FREE_UPGRADE, revert_free_upgrade)
