"""Stripe's `invoice.upcoming` arrives as an `invoice_upcoming` event: the customer's renewal
discount goes onto that subscription, once (the same outbox key as the rule action's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent
from rewards.renewals.actions import enqueue_renewal_discount

INVOICE_UPCOMING = "invoice_upcoming"
CustomerFacts = Callable[[Session, list[int], datetime], dict[int, dict[str, Any]]]


@dataclass
class RenewalInvoiceReactor:
    customer_facts: CustomerFacts
    name: str = "renewals.invoice_upcoming"
    event_types: frozenset[str] = frozenset({INVOICE_UPCOMING})

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        return []

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        renewals = [
            e for e in events if e.properties.get("billing_reason") != "subscription_create"
        ]
        if not renewals:
            return
        facts = self.customer_facts(session, sorted({e.customer_id for e in renewals}), ctx.now)
        for event in renewals:
            subscription = event.properties.get("subscription_id")
            invoice = event.properties.get("invoice_id")  # set for invoice.created (a draft)
            enqueue_renewal_discount(
                session,
                customer_id=event.customer_id,
                customer_facts=facts.get(event.customer_id, {}),
                now=ctx.now,
                subscription_id=subscription if isinstance(subscription, str) else None,
                invoice_id=invoice if isinstance(invoice, str) else None,
            )
