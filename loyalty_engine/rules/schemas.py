"""Rule requests and responses; limits and windows are validated here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)

from loyalty_engine.rules.models import Outcome, VersionStatus
from loyalty_engine.rules.windows import Calendar

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
Unit = Annotated[str, StringConstraints(pattern=r"^(points|[a-z]{3})$")]
Positive = Annotated[StrictInt, Field(gt=0)]


class Window(BaseModel):
    """A calendar period (UTC), the last N days, or, with neither, the customer's whole lifetime."""

    model_config = ConfigDict(extra="forbid")

    calendar: Calendar | None = None
    rolling_days: Annotated[StrictInt, Field(ge=1, le=3660)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.calendar is not None and self.rolling_days is not None:
            raise ValueError("choose calendar or rolling_days, not both")
        return self


class CustomerLimit(BaseModel):
    """At most `count` awards, or at most `amount` of `unit`, per customer in the window."""

    model_config = ConfigDict(extra="forbid")

    count: Positive | None = None
    amount: Positive | None = None
    unit: Unit | None = None
    window: Window = Field(default_factory=Window)

    @model_validator(mode="after")
    def _count_or_amount(self) -> Self:
        if (self.count is None) == (self.amount is None):
            raise ValueError("set exactly one of count or amount")
        if self.amount is not None and self.unit is None:
            raise ValueError("an amount limit needs its unit ('points' or a currency)")
        return self


class Budget(BaseModel):
    """At most `amount` of `unit` granted by the rule in each calendar period (or ever)."""

    model_config = ConfigDict(extra="forbid")

    amount: Positive
    unit: Unit
    calendar: Calendar | None = None


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_customer: list[CustomerLimit] = Field(default_factory=list, max_length=10)
    budget: Budget | None = None


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    params: dict[str, Any] = Field(default_factory=dict)


class RuleFields(BaseModel):
    """What a rule says; shared by create and update (where every field is optional)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    triggers: Annotated[list[EventType], Field(min_length=1, max_length=20)]
    condition: Any = Field(default=True, description="JSON Logic over the facts; true = always.")
    actions: Annotated[list[ActionIn], Field(min_length=1, max_length=20)]
    limits: Limits = Field(default_factory=Limits)
    priority: Annotated[StrictInt, Field(ge=0, le=10_000)] = 100
    stop_after_match: bool = False
    segment: Key | None = Field(default=None, description="Only customers in this segment.")
    active_from: AwareDatetime | None = None
    active_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.active_from and self.active_until and self.active_until <= self.active_from:
            raise ValueError("active_until must be after active_from")
        return self


class RuleCreate(RuleFields):
    key: Key | None = Field(
        default=None, description="A stable id; derived from the name if absent."
    )
    activate: bool = Field(default=False, description="Publish at once instead of as a draft.")


class RuleUpdate(BaseModel):
    """A change: a draft is edited in place; an active rule gets a new draft version."""

    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    triggers: Annotated[list[EventType], Field(min_length=1, max_length=20)] | None = None
    condition: Any = None
    actions: Annotated[list[ActionIn], Field(min_length=1, max_length=20)] | None = None
    limits: Limits | None = None
    priority: Annotated[StrictInt, Field(ge=0, le=10_000)] | None = None
    stop_after_match: bool | None = None
    segment: Key | None = None
    active_from: AwareDatetime | None = None
    active_until: AwareDatetime | None = None
    activate: bool = False


class RuleVersionRead(BaseModel):
    id: int
    version: int
    status: VersionStatus
    name: str
    description: str
    triggers: list[str]
    condition: Any
    actions: list[dict[str, Any]]
    limits: dict[str, Any]
    priority: int
    stop_after_match: bool
    segment: str | None
    active_from: datetime | None
    active_until: datetime | None
    created_by: str
    created_at: datetime
    activated_at: datetime | None
    archived_at: datetime | None


class RuleRead(BaseModel):
    key: str
    active: RuleVersionRead | None
    draft: RuleVersionRead | None
    versions: int
    created_at: datetime
    updated_at: datetime


class DecisionRead(BaseModel):
    id: int
    rule: str
    rule_version: int
    event_id: int
    event_type: str
    outcome: Outcome
    grant_unit: str | None
    grant_amount: int
    reason: str
    results: list[dict[str, Any]]
    trace: dict[str, Any]
    decided_at: datetime


class SavedRuleRef(BaseModel):
    """A saved rule to backtest: this version, else its draft, else its active version."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    version: Positive | None = None


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[str | dict[str, Any]] = Field(
        min_length=1,
        max_length=50,
        description='Saved rules (`"key"` or `{"key", "version"}`) or drafts, as '
        "`POST /v1/rules` takes them; each is checked as saving checks it.",
    )
    since: AwareDatetime | None = Field(
        default=None, alias="from", description="Start (inclusive); 30 days before `until`."
    )
    until: AwareDatetime | None = Field(default=None, description="End (exclusive); now.")
    event_type: EventType | None = Field(default=None, description="Only events of this type.")
    compare_with_active: bool = Field(
        default=True, description="Replay the active rules too, and read what was recorded."
    )
