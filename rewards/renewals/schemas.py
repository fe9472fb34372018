"""The renewal discount program as marketers write it; quotes and applications for billing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from rewards.renewals.models import Combination

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Bps = Annotated[StrictInt, Field(ge=1, le=10_000, description="1000 is 10% off.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyFields(_Strict):
    key: Key
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    segment: Key | None = Field(default=None, description="Only for members of this segment.")
    tier: Key | None = Field(default=None, description="Only for customers in this tier.")
    discount_bps: Bps

    @model_validator(mode="after")
    def _has_a_condition(self) -> PolicyFields:
        if self.segment is None and self.tier is None:
            raise ValueError("a policy needs a segment, a tier, or both")
        return self


class RenewalProgramFields(_Strict):
    combination: Combination = Combination.BEST_OF
    cap_bps: Annotated[StrictInt, Field(ge=0, le=10_000)] = 10_000
    include_tier_benefit: bool = Field(
        default=True, description="Count each tier's own renewal_discount_bps as a candidate."
    )
    policies: list[PolicyFields] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _distinct_keys(self) -> RenewalProgramFields:
        keys = [p.key for p in self.policies]
        if len(set(keys)) != len(keys):
            raise ValueError("policy keys must be distinct")
        return self


class RenewalProgramRead(RenewalProgramFields):
    version: int
    updated_at: datetime


class Reason(BaseModel):
    discount_bps: int
    reason: str
    policy: str | None


class RenewalQuote(BaseModel):
    customer_id: str
    renewal_on: date | None
    discount_bps: int = Field(description="What to take off the renewal invoice.")
    combination: Combination
    reasons: list[Reason] = Field(description="Every discount that matched, applied or not.")
    currency: str | None
    credits_available_minor: int = Field(description="Credit in the customer's currency.")
    as_of: datetime


class RenewalApplicationCreate(_Strict):
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    invoice_ref: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="Your invoice id: one application per invoice (a retry changes nothing)."
    )
    discount_bps: Annotated[StrictInt, Field(ge=0, le=10_000)]
    credits_applied_minor: Annotated[StrictInt, Field(ge=0)] = 0
    currency: Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")] | None = None

    @model_validator(mode="after")
    def _credits_have_a_currency(self) -> RenewalApplicationCreate:
        if self.credits_applied_minor and self.currency is None:
            raise ValueError("credits_applied_minor needs its currency")
        return self


class RenewalApplicationRead(BaseModel):
    id: int
    customer_id: str
    invoice_ref: str
    discount_bps: int
    currency: str | None
    credits_applied_minor: int
    ledger_entry_id: int | None
    created_at: datetime
    replayed: bool
