"""Catalog items as marketers write them; what a customer sees; redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from loyalty_engine.customers.actions import SetTrait
from loyalty_engine.webhooks.actions import https_unless_local
from rewards.catalog.models import RedemptionStatus, RewardKind

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Positive = Annotated[StrictInt, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCredit(_Strict):
    amount_minor: Positive
    currency: Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]


class Webhook(_Strict):
    url: AnyHttpUrl = Field(description="Where the redemption is POSTed (signed) to be fulfilled.")

    @field_validator("url")
    @classmethod
    def _https_unless_local(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        return https_unless_local(url)


class PlanUpgrade(_Strict):
    price_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="The billing system's price of the better plan (Stripe: price_...)."
    )
    months: Annotated[StrictInt, Field(ge=1, le=36)] = Field(
        description="How long the customer keeps the better plan at their old price."
    )


FULFILMENTS: dict[RewardKind, type[BaseModel]] = {
    RewardKind.ACCOUNT_CREDIT: AccountCredit,
    RewardKind.SET_TRAIT: SetTrait,
    RewardKind.WEBHOOK: Webhook,
    RewardKind.PLAN_UPGRADE: PlanUpgrade,
}


def checked_fulfilment(kind: RewardKind, fulfilment: dict[str, Any]) -> dict[str, Any]:
    """The fulfilment parameters for the kind, normalized; ValueError naming the first problem."""
    try:
        return FULFILMENTS[kind].model_validate(fulfilment).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"fulfilment for {kind.value}: {where}: {first['msg']}") from exc


class RewardItemFields(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    cost_points: Positive
    segment: Key | None = Field(default=None, description="Only for members of this segment.")
    tiers: list[Key] = Field(
        default_factory=list, description="Only for these tiers (any if empty)."
    )
    stock: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="None: unlimited."
    )
    per_customer_limit: Positive | None = None
    is_active: bool = True


class RewardItemCreate(RewardItemFields):
    key: Key
    kind: RewardKind
    fulfilment: dict[str, Any]

    @model_validator(mode="after")
    def _fulfilment_fits_the_kind(self) -> RewardItemCreate:
        self.fulfilment = checked_fulfilment(self.kind, self.fulfilment)
        return self


class RewardItemUpdate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    cost_points: Positive | None = None
    segment: Key | None = None
    tiers: list[Key] | None = None
    stock: Annotated[StrictInt, Field(ge=0)] | None = None
    per_customer_limit: Positive | None = None
    is_active: bool | None = None
    fulfilment: dict[str, Any] | None = None


class RewardItemRead(RewardItemCreate):
    created_at: datetime
    updated_at: datetime


class OfferRead(BaseModel):
    """An item as one customer sees it: whether they may redeem it now, and if not, why."""

    key: str
    name: str
    description: str
    kind: RewardKind
    cost_points: int
    stock: int | None
    available: bool
    reasons: list[str]


class RedemptionRead(BaseModel):
    id: int
    reward: str
    customer_id: str
    points: int
    status: RedemptionStatus
    fulfilment_status: str = Field(
        description="fulfilled, pending, delivered, failed or cancelled."
    )
    result: dict[str, Any]
    spend_entry_id: int
    refund_entry_id: int | None
    created_at: datetime
    updated_at: datetime
    replayed: bool = False
