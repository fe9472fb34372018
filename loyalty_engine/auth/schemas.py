"""API key and customer token request/response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loyalty_engine.auth.models import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    role: Role


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The whole key. It is shown this once and never again.")


class CustomerTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_seconds: int | None = Field(
        default=None, ge=30, description="Defaults to the configured TTL."
    )


class CustomerTokenRead(BaseModel):
    token: str
    customer_id: str
    expires_at: datetime


class WhoAmI(BaseModel):
    kind: str
    role: Role | None
    api_key_prefix: str | None
    customer_id: str | None
