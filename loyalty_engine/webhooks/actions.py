"""The `notify_webhook` rule action: queue a signed POST of the decision to a URL (delivered by
the outbox after the event's transaction commits, once per decision and action)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import bindparam, select

from loyalty_engine.outbox import service as outbox
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant
from loyalty_engine.rules.customer_facts import epoch_seconds
from loyalty_engine.rules.models import Rule, RuleVersion
from loyalty_engine.webhooks.delivery import WEBHOOK

RULES = Rule.__table__  # type: ignore[attr-defined]
VERSIONS = RuleVersion.__table__  # type: ignore[attr-defined]
ACTION = "notify_webhook"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=200)]


class NotifyWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where to POST (https, or http to a loopback address).")
    event: Name = Field(default="rule.matched", description="The `type` your receiver sees.")
    metadata: dict[Name, Text] = Field(
        default_factory=dict,
        max_length=20,
        description="Fixed text passed through as `data.metadata` (a campaign, a channel...).",
    )

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        return https_unless_local(url)


def https_unless_local(url: AnyHttpUrl) -> AnyHttpUrl:
    """Webhooks carry customer data: https, or plain http only to this machine (development).
    No user name or password in the URL: outbox listings show it."""
    if url.scheme != "https" and url.host not in LOOPBACK_HOSTS:
        raise ValueError("webhooks go to https URLs (http only to a loopback address)")
    if url.username or url.password:
        raise ValueError("no credentials in webhook URLs: receivers check the signature instead")
    return url


# The decision's rule as the receiver knows it, and the version's actions (to find this one's
# place among them). Built once.
_RULE_OF_VERSION = (
    select(RULES.c.key, VERSIONS.c.version, VERSIONS.c.actions)
    .join(RULES, RULES.c.id == VERSIONS.c.rule_id)
    .where(VERSIONS.c.id == bindparam("b_version"))
)


def notify_webhook(ctx: ActionContext, params: NotifyWebhook, _: Grant | None) -> dict[str, Any]:
    key, version, actions = ctx.session.execute(
        _RULE_OF_VERSION, {"b_version": ctx.rule_version_id}
    ).one()
    index = action_index(actions, params)
    event = ctx.facts.get("event", {})
    queued = outbox.enqueue(
        ctx.session,
        kind=WEBHOOK,
        # Deterministic: a replayed decision never queues a second message for this action.
        idempotency_key=f"webhook:decision:{ctx.decision_id}:action:{index}",
        payload={
            "url": str(params.url),
            "event": params.event,
            "created_at": ctx.now.isoformat(),
            "data": {
                "customer_id": ctx.customer_external_id,
                "rule": {"key": key, "version": version},
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
                "metadata": params.metadata,
            },
        },
        now=ctx.now,
        customer_id=ctx.customer_id,
    )
    return {"queued": queued, "url": str(params.url), "action": index}


def action_index(actions: list[dict[str, Any]], params: NotifyWebhook) -> int:
    """This action's place in its rule version (published versions never change). Two identical
    notify_webhook actions in one rule share the first place, so they send one message."""
    for index, action in enumerate(actions):
        if action.get("type") != ACTION:
            continue
        if NotifyWebhook.model_validate(action.get("params", {})) == params:
            return index
    raise RuntimeError(f"no {ACTION} action with these parameters in the rule version")


def register_webhook_actions(registry: ActionRegistry) -> None:
    registry.register(
        ActionSpec(
            ACTION,
            NotifyWebhook,
            notify_webhook,
            description="POST the decision, signed, to a URL (through the outbox, after commit).",
        )
    )
