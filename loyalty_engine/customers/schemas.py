"""Customer request and response models: all validation of customer input lives here."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from loyalty_engine.customers.models import LifecycleStage
from loyalty_engine.money import normalize_currency

MAX_CUSTOM_TRAITS = 100
_TRAIT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\s]+$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.astimezone(UTC)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe", a folder
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
    return value


def _country(value: str) -> str:
    upper = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", upper):
        raise ValueError("country must be an ISO 3166-1 alpha-2 code such as 'DE'")
    return upper


def _finite(value: Any) -> bool:
    """No NaN or Infinity anywhere in a JSON value (they would be stored as null)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


UtcInstant = Annotated[AwareDatetime, AfterValidator(_utc)]
Currency = Annotated[str, AfterValidator(normalize_currency)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Country = Annotated[str, AfterValidator(_country)]


class CustomerUpsert(BaseModel):
    """`PUT /v1/customers/{external_id}`: fields left out keep their value; `null` clears one.

    `custom_traits` merge key by key; a key set to `null` is removed.
    """

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    name: ShortText | None = None
    company: ShortText | None = None
    plan: Code | None = None
    # Strict: "10" or true for a count or an amount is a client bug, not something to guess at.
    seats: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = None
    mrr_minor: Annotated[StrictInt, Field(ge=0, le=10**15)] | None = None
    currency: Currency | None = None
    role: Code | None = None
    industry: Code | None = None
    country: Country | None = None
    timezone: Timezone | None = None
    signup_at: UtcInstant | None = None
    subscription_started_at: UtcInstant | None = None
    renewal_on: date | None = None
    billing_customer_id: ShortText | None = None
    lifecycle_stage: LifecycleStage | None = None
    custom_traits: dict[str, Any] | None = None

    @field_validator("custom_traits")
    @classmethod
    def _check_custom_traits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if len(value) > MAX_CUSTOM_TRAITS:
            raise ValueError(f"at most {MAX_CUSTOM_TRAITS} custom traits")
        for key, item in value.items():
            if not _TRAIT_KEY.fullmatch(key):
                raise ValueError(
                    f"custom trait name {key!r} must start with a letter or '_' and use "
                    "letters, digits and '_' (at most 64)"
                )
            if not _finite(item):  # NaN and Infinity cannot round-trip through JSON
                raise ValueError(f"custom trait {key!r} holds NaN or Infinity")
        return value

    @field_validator("lifecycle_stage")
    @classmethod
    def _stage_cannot_be_cleared(cls, value: LifecycleStage | None) -> LifecycleStage:
        # Runs only when the field is sent: a customer is always in some stage, so null is refused.
        if value is None:
            raise ValueError("lifecycle_stage cannot be null; send a stage such as 'awareness'")
        return value

    @model_validator(mode="after")
    def _mrr_needs_currency_when_given(self) -> CustomerUpsert:
        given = self.model_fields_set
        clears_currency = "currency" in given and self.currency is None
        if "mrr_minor" in given and self.mrr_minor is not None and clears_currency:
            raise ValueError("mrr_minor needs a currency")
        return self


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The customer's external id (yours).")
    email: str | None
    name: str | None
    company: str | None
    plan: str | None
    seats: int | None
    mrr_minor: int | None
    currency: str | None
    role: str | None
    industry: str | None
    country: str | None
    timezone: str | None
    signup_at: datetime | None
    subscription_started_at: datetime | None
    renewal_on: date | None
    billing_customer_id: str | None
    lifecycle_stage: LifecycleStage
    custom_traits: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    data: list[CustomerRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
