"""Segments (named conditions over customer facts) and declared custom traits (their kinds)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, json_type, pk_column


class TraitKind(StrEnum):
    """The kinds a custom trait may be declared with: each translates to SQL."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"


class CustomTraitDeclaration(SQLModel, table=True):
    """A custom trait's declared kind: conditions may then compare it, and segments read it in SQL.
    A value of another kind reads as missing (in Python and in SQL alike)."""

    __tablename__ = "custom_trait_declarations"

    id: int | None = Field(default=None, sa_column=pk_column())
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    kind: TraitKind = Field(sa_column=Column(String(16), nullable=False))
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Segment(SQLModel, table=True):
    """A named JSON Logic condition over customer facts; archived ones are kept for history."""

    __tablename__ = "segments"
    id: int | None = Field(default=None, sa_column=pk_column())
    key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text(), nullable=False))
    condition: Any = Field(default=True, sa_column=Column(json_type(), nullable=False))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
