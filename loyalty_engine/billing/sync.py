"""`loyalty billing sync`: pull Stripe's customers and subscriptions to link customers and fill
their billing traits (plan, MRR, currency, renewal date), through the same door as webhooks.

Customers are linked as `customer.created` webhooks link them (billing id, metadata, a unique
email). Each subscription becomes a `subscription_updated` event keyed by its content, so a
second sync of an unchanged account writes nothing. A customer's live subscription wins over
its ended ones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe

from loyalty_engine.billing.inbox import handlers
from loyalty_engine.billing.inbox.service import requeue_unlinked
from loyalty_engine.db import session_scope
from loyalty_engine.events.service import InternalEvent, ingest_internal
from loyalty_engine.runtime import Runtime

PAGE = 100
ENDED = ("canceled", "incomplete_expired")


@dataclass
class SyncReport:
    customers: int = 0
    linked: int = 0
    unmatched: int = 0
    subscriptions: int = 0
    updated: int = 0
    skipped: int = 0


Progress = Callable[[str, int], None]


def sync_from_stripe(
    runtime: Runtime, client: stripe.StripeClient, *, progress: Progress | None = None
) -> SyncReport:
    report = SyncReport()
    for customer in client.v1.customers.list(params={"limit": PAGE}).auto_paging_iter():
        report.customers += 1
        with session_scope(runtime.engine, write=True) as session:
            ctx = handlers.Context(reactors=runtime.reactors, now=runtime.clock.now())
            linked = handlers.link_customer(session, customer.to_dict(), ctx)
            for billing_id in ctx.linked:
                requeue_unlinked(session, stripe_customer_id=billing_id, now=ctx.now)
        report.linked += bool(linked)
        report.unmatched += linked is None
        if progress is not None:
            progress("customers", report.customers)
    subscriptions = [
        s.to_dict()
        for s in client.v1.subscriptions.list(
            params={"status": "all", "limit": PAGE}
        ).auto_paging_iter()
    ]
    # Ended ones first, so that a customer's live subscription is the one that stays.
    subscriptions.sort(key=lambda s: (s.get("status") not in ENDED, s.get("created") or 0))
    for subscription in subscriptions:
        report.subscriptions += 1
        with session_scope(runtime.engine, write=True) as session:
            external = handlers.customer_of(session, subscription.get("customer"))
            if external is None:
                report.skipped += 1
                continue
            traits = handlers.subscription_traits(subscription)
            properties: dict[str, Any] = {"subscription_id": subscription["id"], **traits}
            digest = hashlib.sha256(json.dumps(properties, sort_keys=True).encode()).hexdigest()[
                :16
            ]
            results = ingest_internal(
                session,
                events=[
                    InternalEvent(
                        "subscription_updated",
                        external,
                        properties,
                        f"stripe-sync:{subscription['id']}:{digest}",
                    )
                ],
                source=handlers.SOURCE,
                reactors=runtime.reactors,
                now=runtime.clock.now(),
            )
        report.updated += sum(r.status.value == "accepted" for r in results)
        if progress is not None:
            progress("subscriptions", report.subscriptions)
    return report
