"""The customers table: typed traits as columns, free-form traits as JSON, a lifecycle stage."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Index, String
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, json_type, pk_column


class LifecycleStage(StrEnum):
    AWARENESS = "awareness"
    CONVERSION = "conversion"
    PURCHASE = "purchase"
    ONBOARDING = "onboarding"
    RENEWAL = "renewal"
    LOYALTY = "loyalty"


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_plan", "plan"),
        Index("ix_customers_lifecycle_stage", "lifecycle_stage"),
        Index("ix_customers_email", "email"),
        Index("ix_customers_renewal_on", "renewal_on"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    external_id: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    email: str | None = Field(default=None, sa_column=Column(String(320)))
    name: str | None = Field(default=None, sa_column=Column(String(255)))
    company: str | None = Field(default=None, sa_column=Column(String(255)))
    plan: str | None = Field(default=None, sa_column=Column(String(64)))
    seats: int | None = None
    mrr_minor: int | None = Field(default=None, sa_column=Column(BigInteger()))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    role: str | None = Field(default=None, sa_column=Column(String(64)))
    industry: str | None = Field(default=None, sa_column=Column(String(64)))
    country: str | None = Field(default=None, sa_column=Column(String(2)))
    timezone: str | None = Field(default=None, sa_column=Column(String(64)))
    signup_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    subscription_started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    renewal_on: date | None = Field(default=None, sa_column=Column(Date()))
    billing_customer_id: str | None = Field(default=None, sa_column=Column(String(255)))
    custom_traits: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    # When each trait was last set from an event: an older event never overwrites newer state.
    trait_times: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(json_type(), nullable=False)
    )
    lifecycle_stage: LifecycleStage = Field(
        default=LifecycleStage.AWARENESS, sa_column=Column(String(16), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
