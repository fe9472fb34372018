"""Milestone requests and responses. The shape is checked here; conditions are checked against the
fact schema by `definitions.problems` (every problem at once, with its JSON path)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from loyalty_engine.milestones.models import AchievedBy
from loyalty_engine.rules.schemas import EventType, Key

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]
MAX_STEPS = 50


class StepIn(BaseModel):
    """One step: `count` events of type `event` for which `condition` (if any) holds."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = Field(
        default="", description="Shown in progress; the key when empty."
    )
    event: EventType = Field(description="The event type that counts, e.g. feature_used.")
    condition: Any = Field(
        default=None,
        description="JSON Logic over event.*, customer.*, now; null: every such event counts.",
    )
    count: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.name:
            self.name = self.key
        return self


class MilestoneFields(BaseModel):
    """What a milestone says; shared by create and by an update merged over the stored one."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    steps: Annotated[list[StepIn], Field(max_length=MAX_STEPS)] = Field(default_factory=list)
    required_steps: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)] | None = Field(
        default=None, description="How many steps must be done (default: all)."
    )
    required_bps: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = Field(
        default=None,
        description="Or the share of the steps, in basis points, rounded up (8000: at least 80%).",
    )
    condition: Any = Field(
        default=None,
        description="JSON Logic over the facts, checked on each event of the customer; "
        "null: none. With neither steps nor condition, only a grant achieves the milestone.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [step.key for step in self.steps]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"step keys must be unique; repeated: {', '.join(repeated)}")
        if self.required_steps is not None and self.required_bps is not None:
            raise ValueError("choose required_steps or required_bps, not both")
        required = self.required_steps is not None or self.required_bps is not None
        if required and not self.steps:
            raise ValueError("required_steps and required_bps need steps")
        if self.required_steps is not None and self.required_steps > len(self.steps):
            raise ValueError(
                f"required_steps is {self.required_steps} but there are {len(self.steps)} steps"
            )
        return self


class MilestoneCreate(MilestoneFields):
    key: Key = Field(description="A stable id, e.g. onboarding_complete (used in conditions).")


class MilestoneUpdate(BaseModel):
    """A change; fields left out keep their value. Setting one of required_steps/required_bps
    clears the other."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    steps: Annotated[list[StepIn], Field(max_length=MAX_STEPS)] | None = None
    required_steps: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)] | None = None
    required_bps: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    condition: Any = None


class StepRead(BaseModel):
    key: str
    name: str
    event: str
    condition: Any
    count: int


class MilestoneRead(BaseModel):
    key: str
    name: str
    description: str
    steps: list[StepRead]
    required_steps: int | None
    required_bps: int | None
    required: int = Field(description="How many steps must be done, as configured.")
    condition: Any
    manual: bool = Field(description="Neither steps nor condition: achieved only by a grant.")
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FractionRead(BaseModel):
    numerator: int
    denominator: int
    percent: int = Field(description="Rounded down: 100 only when complete.")


class StepProgressRead(BaseModel):
    key: str
    name: str
    count: int
    needed: int
    done: bool


class MilestoneProgressRead(BaseModel):
    milestone: str
    name: str
    archived: bool
    steps: list[StepProgressRead]
    done_steps: int
    required_steps: int
    has_condition: bool
    progress: FractionRead = Field(
        description="Steps done (up to those required), plus the condition as one more part "
        "when there is one; complete once achieved."
    )
    achieved: bool
    achieved_at: datetime | None
    achieved_by: AchievedBy | None


class CustomerMilestonesRead(BaseModel):
    customer_id: str
    achieved: list[str]
    milestones: list[MilestoneProgressRead]


class GrantRead(BaseModel):
    milestone: str
    customer_id: str
    granted: bool = Field(description="False when the customer had already achieved it.")
    achieved_at: datetime
    achieved_by: AchievedBy
