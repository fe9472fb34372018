"""The billing gateway a process uses, from its settings."""

from __future__ import annotations

import logging

from loyalty_engine.billing.gateway import BillingGateway
from loyalty_engine.billing.memory import InMemoryBillingGateway
from loyalty_engine.config import Settings

log = logging.getLogger(__name__)


def gateway_from_settings(settings: Settings) -> BillingGateway:
    """Stripe when a Stripe key is set; otherwise an in-memory gateway (the demo), which keeps
    nothing across restarts: billing systems then use the renewal quote API instead."""
    if settings.stripe_api_key:
        from loyalty_engine.billing.stripe_gateway import StripeGateway, make_client

        client = make_client(
            settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            timeout_seconds=settings.stripe_timeout_seconds,
        )
        return StripeGateway(client, writes_per_second=settings.stripe_max_writes_per_second)
    log.warning("billing: no LOYALTY_STRIPE_API_KEY; billing effects stay in memory (demo only)")
    return InMemoryBillingGateway()


def applies_credits(settings: Settings, gateway: BillingGateway) -> bool:
    """Whether the engine moves currency credit onto billing balances itself."""
    if settings.billing_apply_credits is not None:
        return settings.billing_apply_credits
    return gateway.name == "stripe"
