"""The `webhook` outbox kind: POST the payload's body, signed, to its URL after commit.

Headers: `Content-Type: application/json`, `Loyalty-Delivery` (the message's idempotency key,
the same on every attempt: receivers apply it once), `Loyalty-Timestamp` (unix seconds),
`Loyalty-Signature` (see `signing`) and `Loyalty-Attempt`. 2xx is delivered; 408, 425, 429 and
5xx (and timeouts, refused connections) are retried with the outbox's backoff (honouring
Retry-After); any other answer, redirects included, dead-letters the message, where
`POST /v1/outbox/{id}/retry` can send it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import orjson

from loyalty_engine.clock import Clock
from loyalty_engine.outbox.delivery import (
    Delivery,
    DeliveryRegistry,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from loyalty_engine.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

WEBHOOK = "webhook"
TIMEOUT_SECONDS = 10.0
RETRIED_STATUSES = frozenset({408, 425, 429})


def register_webhook_delivery(
    registry: DeliveryRegistry,
    *,
    secret: Callable[[], str],
    clock: Clock,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """`secret` is read at delivery time (the instance secret is loaded after start-up)."""

    def deliver(d: Delivery) -> dict[str, Any]:
        body = orjson.dumps(
            {
                "id": d.idempotency_key,
                "type": d.payload["event"],
                "created_at": d.payload.get("created_at"),
                "data": d.payload.get("data", {}),
            }
        )
        timestamp = int(clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "loyalty-engine-webhooks",
            "Loyalty-Delivery": d.idempotency_key,
            "Loyalty-Attempt": str(d.attempt),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret(), timestamp, body),
        }
        try:
            with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
                response = client.post(d.payload["url"], content=body, headers=headers)
        except httpx.TransportError as exc:
            raise RetryableDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return {"status": status}
        detail = f"HTTP {status} from {d.payload['url']}: {response.text[:200]}"
        if status >= 500 or status in RETRIED_STATUSES:
            raise RetryableDeliveryError(detail, retry_after_seconds=_retry_after(response))
        raise PermanentDeliveryError(detail)

    registry.register(WEBHOOK, deliver)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
