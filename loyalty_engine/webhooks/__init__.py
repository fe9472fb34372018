"""Outbound webhooks: signed JSON POSTs delivered through the outbox (retried, dead-lettered),
and the `notify_webhook` rule action that queues them."""

from loyalty_engine.webhooks.actions import NotifyWebhook, register_webhook_actions
from loyalty_engine.webhooks.delivery import WEBHOOK, register_webhook_delivery
from loyalty_engine.webhooks.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    derived_secret,
    signature,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK",
    "NotifyWebhook",
    "derived_secret",
    "register_webhook_actions",
    "register_webhook_delivery",
    "signature",
    "verify",
]
