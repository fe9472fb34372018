"""The tier program as marketers write it, and a customer's tier as the API shows it."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from rewards.tiers.models import DowngradePolicy, QualificationWindow, TierBasis

TierKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Bps = Annotated[StrictInt, Field(ge=0, le=100_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierFields(_Strict):
    key: TierKey
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    threshold: Annotated[StrictInt, Field(ge=0, description="Points, minor units or days.")]
    multiplier_bps: Bps = Field(
        default=10_000, description="Earning multiplier: 12500 earns 1.25 times the points."
    )
    renewal_discount_bps: Annotated[StrictInt, Field(ge=0, le=10_000)] = Field(
        default=0, description="Off a renewal invoice: 1000 is 10%."
    )
    perks: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, description='Named perks, e.g. "early_access", "free_upgrade".'
    )


class TierProgramFields(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    basis: TierBasis = TierBasis.POINTS_EARNED
    window: QualificationWindow = QualificationWindow.ROLLING_12_MONTHS
    downgrade: DowngradePolicy = DowngradePolicy.END_OF_WINDOW
    grace_days: Annotated[StrictInt, Field(ge=0, le=366)] = 30
    tiers: list[TierFields] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _ordered_and_distinct(self) -> TierProgramFields:
        keys = [t.key for t in self.tiers]
        if len(set(keys)) != len(keys):
            raise ValueError("tier keys must be distinct")
        thresholds = [t.threshold for t in self.tiers]
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("tiers must be listed from lowest to highest, thresholds increasing")
        return self


class TierProgramRead(TierProgramFields):
    version: int
    updated_at: datetime


class TierRead(BaseModel):
    key: str
    name: str
    multiplier_bps: int
    renewal_discount_bps: int
    perks: list[str]


class NextTier(BaseModel):
    tier: TierRead
    needed: int = Field(description="How much more of the basis reaches it.")
    threshold: int
    progress_bps: int = Field(description="Of the way from the current tier's threshold to it.")
    by: datetime | None = Field(description="The window in which it must be reached ends then.")


class TierChangeRead(BaseModel):
    from_tier: str | None
    to_tier: str | None
    basis_value: int
    reason: str
    at: datetime


class CustomerTierRead(BaseModel):
    customer_id: str
    basis: TierBasis
    basis_value: int = Field(description="Points earned in the window, MRR or tenure days now.")
    tier: TierRead | None
    since: datetime | None
    qualified_until: datetime | None
    next: NextTier | None
    history: list[TierChangeRead]
