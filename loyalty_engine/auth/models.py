"""API keys (hashed, with a role) and the instance secret that signs customer tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, pk_column


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    BILLING = "billing"
    INGEST = "ingest"
    SUPPORT = "support"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, sa_column=pk_column())
    name: str = Field(sa_column=Column(String(128), nullable=False))
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    # The readable part of the key ("lk_" + 8 characters): shown in listings and logs.
    prefix: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    # SHA-256 of the whole key. Keys carry 256 bits of randomness, so a fast hash is enough.
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class InstanceSecret(SQLModel, table=True):
    __tablename__ = "instance_secrets"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
