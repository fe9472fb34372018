"""`POST /v1/billing/stripe/webhook`: authenticated by Stripe's signature (not an API key),
stored once by event id, answered at once; a worker processes it."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel

from loyalty_engine.billing.inbox import service
from loyalty_engine.billing.inbox.signature import verify
from loyalty_engine.errors import ServiceUnavailable
from loyalty_engine.http import ErrorEnvelope, RuntimeDep, UnitOfWorkDep

router = APIRouter(prefix="/v1/billing/stripe", tags=["billing"])
WEBHOOK_PATH = "/v1/billing/stripe/webhook"


class WebhookNotConfigured(ServiceUnavailable):
    code = "stripe_webhook_not_configured"


class Received(BaseModel):
    received: bool
    duplicate: bool


@router.post(
    "/webhook",
    response_model=Received,
    responses={
        400: {"model": ErrorEnvelope, "description": "Bad signature, timestamp or payload"},
        503: {"model": ErrorEnvelope, "description": "No webhook secret configured"},
    },
)
async def stripe_webhook(request: Request, runtime: RuntimeDep, uow: UnitOfWorkDep) -> Received:
    """Stripe's webhook endpoint. The `Stripe-Signature` header is checked (HMAC-SHA256 with
    `LOYALTY_STRIPE_WEBHOOK_SECRET`, or `..._PREVIOUS` while rotating) and its timestamp must be
    within the tolerance of our clock, neither older nor newer; anything else is refused and
    nothing is written. A repeated event id answers 200 with `duplicate: true`."""
    settings = runtime.settings
    secrets = [
        s for s in (settings.stripe_webhook_secret, settings.stripe_webhook_secret_previous) if s
    ]
    if not secrets:
        raise WebhookNotConfigured("set LOYALTY_STRIPE_WEBHOOK_SECRET to receive Stripe webhooks")
    payload = await request.body()
    verify(
        payload,
        request.headers.get("stripe-signature"),
        secrets=secrets,
        now=runtime.clock.now(),
        tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
    )
    try:
        event: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise service.PayloadInvalid(f"the payload is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise service.PayloadInvalid("the payload is not a Stripe event object")

    def keep() -> bool:  # the database work in a worker thread, not on the event loop
        with uow() as session:
            return service.store(session, event, now=runtime.clock.now())

    stored = await anyio.to_thread.run_sync(keep)
    return Received(received=True, duplicate=not stored)
