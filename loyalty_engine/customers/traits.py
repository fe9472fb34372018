"""The built-in reactor: events that name traits update the customer (newest event wins per trait).

| event type             | properties                          | traits set                        |
|------------------------|-------------------------------------|-----------------------------------|
| `signed_up`            | optional `traits` object            | signup_at (= occurred_at), traits |
| `plan_changed`         | `plan`                              | plan                              |
| `seats_changed`        | `seats`                             | seats                             |
| `mrr_changed`          | `mrr_minor`, `currency`             | mrr_minor, currency               |
| `role_changed`         | `role`                              | role                              |
| `subscription_started` | optional `plan`, `renewal_on`       | subscription_started_at, ...      |
| `renewed`              | optional `renewal_on` (next one)    | renewal_on                        |
| `traits_updated`       | `traits` object (fields of the PUT) | those traits                      |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_engine.customers.errors import LOYALTY_BY_RULES_ONLY
from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.customers.schemas import CustomerUpsert
from loyalty_engine.customers.service import STAMPED_AS, apply_changes, stamp, trait_stamp_keys
from loyalty_engine.errors import json_path
from loyalty_engine.events.reactors import PropertyProblem, ReactContext, StoredEvent

Extract = Callable[[dict[str, Any]], tuple[Any, str]]  # the changes (an object if valid), base path


def _named(*names: str) -> Extract:
    def extract(properties: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {name: properties.get(name) for name in names}, "properties"

    return extract


def _traits(properties: dict[str, Any]) -> tuple[Any, str]:
    # Anything but an object is handed on as it is: validation refuses it at properties.traits.
    return properties.get("traits", {}), "properties.traits"


def _optional(*names: str) -> Extract:
    def extract(properties: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {n: properties[n] for n in names if n in properties}, "properties"

    return extract


EXTRACTORS: dict[str, Extract] = {
    "signed_up": _traits,
    "plan_changed": _named("plan"),
    "seats_changed": _named("seats"),
    "mrr_changed": _named("mrr_minor", "currency"),
    "role_changed": _named("role"),
    "subscription_started": _optional("plan", "renewal_on"),
    "renewed": _optional("renewal_on"),
    # From billing (Stripe's customer.subscription.*): what the subscription now says.
    "subscription_updated": _optional("plan", "mrr_minor", "currency", "renewal_on"),
    "traits_updated": _traits,
}
_FROM_OCCURRED_AT = {"signed_up": "signup_at", "subscription_started": "subscription_started_at"}


class TraitReactor:
    name = "customers.traits"
    event_types = frozenset(EXTRACTORS)

    def validate(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        changes, base = EXTRACTORS[event_type](properties)
        problems = _money_problems(changes, base) if isinstance(changes, dict) else []
        try:
            CustomerUpsert.model_validate(changes)
        except ValidationError as exc:
            return problems + [
                PropertyProblem(base + json_path(err["loc"])[1:], _message(err))
                for err in exc.errors()
            ]
        missing = [k for k, v in changes.items() if v is None and event_type in _REQUIRED]
        if changes.get("lifecycle_stage") == LifecycleStage.LOYALTY:
            problems.append(PropertyProblem(f"{base}.lifecycle_stage", LOYALTY_BY_RULES_ONLY))
        return problems + [
            PropertyProblem(f"{base}.{k}", "required for this event type") for k in missing
        ]

    def react(self, session: Session, events: Sequence[StoredEvent], ctx: ReactContext) -> None:
        ids = {e.customer_id for e in events}
        stmt = select(Customer).where(Customer.id.in_(ids)).with_for_update(key_share=True)  # type: ignore[union-attr]
        customers = {c.id: c for c in session.execute(stmt).scalars()}
        for event in events:
            customer = customers[event.customer_id]
            changes = _changes(event)
            if _apply_newer(customer, changes, stamp(event.occurred_at)):
                customer.updated_at = ctx.now
        session.flush()


_REQUIRED = frozenset({"plan_changed", "seats_changed", "mrr_changed", "role_changed"})


def _money_problems(changes: dict[str, Any], base: str) -> list[PropertyProblem]:
    """An event cannot see the stored currency, so mrr_minor and currency travel together:
    without this, an event could leave the customer with an MRR in no currency."""
    if changes.get("mrr_minor") is not None and changes.get("currency") is None:
        return [PropertyProblem(f"{base}.currency", "mrr_minor needs a currency in the same event")]
    clears_currency = "currency" in changes and changes["currency"] is None
    if clears_currency and changes.get("mrr_minor", 0) is not None:
        return [PropertyProblem(f"{base}.mrr_minor", "clearing currency needs mrr_minor: null too")]
    return []


def _message(err: Any) -> str:
    return str(err["msg"]).removeprefix("Value error, ")


def _changes(event: StoredEvent) -> dict[str, Any]:
    raw, _ = EXTRACTORS[event.type](event.properties)
    changes = CustomerUpsert.model_validate(raw).model_dump(exclude_unset=True)
    stamped = _FROM_OCCURRED_AT.get(event.type)
    if stamped is not None:
        changes.setdefault(stamped, event.occurred_at)
    return changes


def _apply_newer(customer: Customer, changes: dict[str, Any], at: str) -> bool:
    """Apply each change whose trait was last set no later than this event happened."""
    times = customer.trait_times
    custom = changes.pop("custom_traits", None) or {}
    newer = {k: v for k, v in changes.items() if times.get(STAMPED_AS.get(k, k), "") <= at}
    newer_custom = {k: v for k, v in custom.items() if times.get(f"custom.{k}", "") <= at}
    if not newer and not newer_custom:
        return False
    applied = {**newer, "custom_traits": newer_custom}
    customer.trait_times = {**times, **dict.fromkeys(trait_stamp_keys(applied), at)}
    apply_changes(customer, applied)
    return True
