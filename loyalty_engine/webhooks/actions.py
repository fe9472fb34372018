"""The `notify_webhook` rule action: queue a signed POST of the decision to a URL (delivered by
the outbox after the event's transaction commits, once per decision and action)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from loyalty_engine.outbox import service as outbox
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.customer_facts import epoch_seconds
from loyalty_engine.webhooks.delivery import WEBHOOK


class NotifyWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where to POST (https, or http to a loopback address).")
    event: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")] = Field(
        default="rule.matched", description="The `type` your receiver sees."
    )

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        return https_unless_local(url)


def https_unless_local(url: AnyHttpUrl) -> AnyHttpUrl:
    """Webhooks carry customer data: https, or plain http only to this machine (development)."""
    if url.scheme != "https" and url.host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise ValueError("webhooks go to https URLs (http only to a loopback address)")
    return url


def notify_webhook(ctx: ActionContext, params: NotifyWebhook, _: Grant | None) -> dict[str, Any]:
    key = f"webhook:decision:{ctx.decision_id}:{params.url}"
    event = ctx.facts.get("event", {})
    queued = outbox.enqueue(
        ctx.session,
        kind=WEBHOOK,
        idempotency_key=key,
        payload={
            "url": str(params.url),
            "event": params.event,
            "created_at": ctx.now.isoformat(),
            "data": {
                "customer_id": ctx.customer_external_id,
                "rule_id": ctx.rule_id,
                "rule_version_id": ctx.rule_version_id,
                "decision_id": ctx.decision_id,
                "event": {
                    "id": ctx.event_id,
                    "type": ctx.event_type,
                    "occurred_at": event.get("occurred_at"),
                    "properties": event.get("properties", {}),
                },
                "decided_at": epoch_seconds(ctx.now),
            },
        },
        now=ctx.now,
        customer_id=ctx.customer_id,
    )
    return {"queued": queued, "url": str(params.url)}


def register_webhook_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            "notify_webhook",
            NotifyWebhook,
            notify_webhook,
            description="POST the decision, signed, to a URL (through the outbox).",
        )
    )
