"""Rule actions on the customer record: `set_trait` and `set_stage`.

The loyalty stage has a precondition from the product documents: the customer renewed at least
once AND achieved the main-features milestone (its key is a setting). `set_stage` refuses it
otherwise, whatever the rule's condition says, and records why. The facts it reads,
`customer.renewals` and `customer.milestones`, come from the milestones package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlmodel import col

from loyalty_engine.customers.models import Customer, LifecycleStage
from loyalty_engine.customers.schemas import CustomerUpsert
from loyalty_engine.customers.service import apply_changes, stamp, trait_stamp_keys
from loyalty_engine.rules.actions import ActionContext, ActionRegistry, ActionSpec, Grant

MAIN_FEATURES_MILESTONE = "main_features"
RENEWED_EVENT = "renewed"
SETTABLE = frozenset(CustomerUpsert.model_fields) - {"custom_traits", "lifecycle_stage"}


class SetTrait(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trait: Annotated[str, StringConstraints(pattern=r"^(custom\.)?[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    value: Any = Field(description="The new value (null clears the trait).")

    def change(self) -> dict[str, Any]:
        """The trait change as a PUT body would say it (checked by the same rules)."""
        if self.trait.startswith("custom."):
            return {"custom_traits": {self.trait.removeprefix("custom."): self.value}}
        if self.trait not in SETTABLE:
            raise ValueError(f"unknown trait {self.trait!r}; use custom.<name> for your own")
        return {self.trait: self.value}

    @model_validator(mode="after")
    def _valid_for_the_trait(self) -> SetTrait:
        try:
            CustomerUpsert.model_validate(self.change())
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from exc
        return self


class SetStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: LifecycleStage


def _customer(ctx: ActionContext) -> Customer:
    stmt = (
        select(Customer).where(col(Customer.id) == ctx.customer_id).with_for_update(key_share=True)
    )
    return ctx.session.execute(stmt).scalar_one()


def set_customer_trait(customer: Customer, params: SetTrait, now: datetime) -> None:
    """Set one trait as a PUT would (validated the same way), stamped with `now`."""
    change = CustomerUpsert.model_validate(params.change()).model_dump(exclude_unset=True)
    keys = trait_stamp_keys(change)
    apply_changes(customer, dict(change))
    customer.trait_times = {**customer.trait_times, **dict.fromkeys(keys, stamp(now))}
    customer.updated_at = now


def set_trait(ctx: ActionContext, params: SetTrait, _: Grant | None) -> dict[str, Any]:
    set_customer_trait(_customer(ctx), params, ctx.now)
    ctx.session.flush()
    return {"trait": params.trait, "value": params.value}


def loyalty_preconditions(
    facts: dict[str, Any], *, main_features_milestone: str = MAIN_FEATURES_MILESTONE
) -> list[str]:
    """What keeps a customer from the loyalty stage (empty when nothing does)."""
    customer = facts.get("customer", {})
    missing = []
    if int(customer.get("renewals", 0) or 0) < 1:
        missing.append("has not renewed yet")
    if main_features_milestone not in (customer.get("milestones") or []):
        missing.append(f"has not achieved the {main_features_milestone!r} milestone")
    return missing


def stage_setter(
    main_features_milestone: str,
) -> Callable[[ActionContext, SetStage, Grant | None], dict[str, Any]]:
    """The `set_stage` action, with the key of the milestone the loyalty stage needs."""

    def set_stage(ctx: ActionContext, params: SetStage, _: Grant | None) -> dict[str, Any]:
        customer = _customer(ctx)
        before = LifecycleStage(customer.lifecycle_stage)
        if before is params.stage:
            return {"stage": before.value, "changed": False}
        if params.stage is LifecycleStage.LOYALTY:
            blockers = loyalty_preconditions(
                ctx.facts, main_features_milestone=main_features_milestone
            )
            if blockers:
                return {"stage": before.value, "refused": "loyalty stage: " + "; ".join(blockers)}
        customer.lifecycle_stage = params.stage
        customer.updated_at = ctx.now
        ctx.session.flush()
        ctx.emit("stage_changed", {"from": before.value, "to": params.stage.value})
        return {"stage": params.stage.value, "changed": True, "from": before.value}

    return set_stage


def register_customer_actions(
    registry: ActionRegistry, *, main_features_milestone: str = MAIN_FEATURES_MILESTONE
) -> None:
    registry.register(ActionSpec("set_trait", SetTrait, set_trait, description="Set a trait."))
    registry.register(
        ActionSpec(
            "set_stage",
            SetStage,
            stage_setter(main_features_milestone),
            description="Move the lifecycle stage (loyalty only after a renewal and the "
            "main-features milestone).",
        )
    )
