"""Outbound webhooks: signed JSON POSTs delivered through the outbox (retried, dead-lettered),
and the `notify_webhook` rule action that queues them."""
