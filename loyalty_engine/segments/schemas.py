"""Segment and custom trait requests and responses; field validation lives here (conditions are
checked against the fact schema by the service, which knows the declared traits)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loyalty_engine.customers.schemas import CustomerRead
from loyalty_engine.segments.models import TraitKind

SegmentKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
TraitName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]
CONDITION = "JSON Logic over customer facts (customer.*, declared customer.custom.*, now)."


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: SegmentKey | None = Field(
        default=None, description="A stable id (a slug); derived from the name if absent."
    )
    name: Name
    description: Description = ""
    condition: Any = Field(description=CONDITION)


class SegmentUpdate(BaseModel):
    """A change: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    condition: Any = Field(default=None, description=CONDITION)


class SegmentPreview(BaseModel):
    """A condition not saved yet, to count its members."""

    model_config = ConfigDict(extra="forbid")

    condition: Any = Field(description=CONDITION)


class SegmentRead(BaseModel):
    key: str
    name: str
    description: str
    condition: Any
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class SegmentCount(BaseModel):
    segment: str | None = Field(description="The segment's key; null for a preview.")
    count: int
    as_of: datetime = Field(description="The `now` the condition was evaluated at.")


class MemberPage(BaseModel):
    data: list[CustomerRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AuditRead(BaseModel):
    action: str
    actor: str
    diff: dict[str, Any]
    at: datetime


class CustomTraitPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TraitKind
    description: Description = ""


class CustomTraitRead(BaseModel):
    name: str
    kind: TraitKind
    description: str
    created_at: datetime
    updated_at: datetime
