"""Ledger tables: an account per customer and unit, its lots (one per grant), its append-only
entries, and the allocations that say which lots each debit consumed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, pk_column


class EntryKind(StrEnum):
    EARN = "earn"
    SPEND = "spend"
    EXPIRE = "expire"
    MATURE = "mature"
    REVERSE = "reverse"
    ADJUST = "adjust"


class LotStatus(StrEnum):
    PENDING = "pending"  # held until matures_at: counts in the account's pending amount
    AVAILABLE = "available"  # spendable while remaining > 0 (a used-up lot stays available)
    EXPIRED = "expired"  # what remained at expires_at was removed
    REVERSED = "reversed"  # its source was undone


class SourceKind(StrEnum):
    RULE = "rule"
    REFERRAL = "referral"
    ADJUSTMENT = "adjustment"
    REDEMPTION = "redemption"


class LedgerAccount(SQLModel, table=True):
    """The balance row: kept in step with the entries in the same transaction, and the row that
    every writer to the account locks first."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("customer_id", "unit", name="uq_ledger_accounts_customer_unit"),
        CheckConstraint("pending >= 0", name="ck_ledger_accounts_pending_not_negative"),
        CheckConstraint("debt >= 0", name="ck_ledger_accounts_debt_not_negative"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), nullable=False)
    )
    # "points", or a lowercase ISO 4217 code whose amounts are minor units ("usd": cents).
    unit: str = Field(sa_column=Column(String(16), nullable=False))
    # Spendable now: the available lots' remainders minus the debt. Negative only when a reversal
    # under the allow-negative policy took back more than the account held.
    available: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    pending: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    # Owed by the customer; the next grants to become available repay it first.
    debt: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    version: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))  # +1 per write
    # The earliest instant one of its open lots matures or expires (None: none ever will). A write
    # catches the account up (matures, expires) only once this has come: most writes find
    # nothing due and skip the two lot queries. It may be early (a reversed lot), never late.
    next_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LedgerLot(SQLModel, table=True):
    """One grant. Only `remaining` and `status` ever change, under the account's lock."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_ledger_lots_amount_positive"),
        CheckConstraint("remaining >= 0", name="ck_ledger_lots_remaining_not_negative"),
        CheckConstraint("remaining <= amount", name="ck_ledger_lots_remaining_within_amount"),
        Index("ix_ledger_lots_account_status", "account_id", "status"),
        Index("ix_ledger_lots_source", "source_kind", "source_ref"),
        Index("ix_ledger_lots_status_matures", "status", "matures_at"),
        Index("ix_ledger_lots_status_expires", "status", "expires_at"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    account_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("ledger_accounts.id"), nullable=False)
    )
    amount: int = Field(sa_column=Column(BigInteger(), nullable=False))
    remaining: int = Field(sa_column=Column(BigInteger(), nullable=False))
    status: LotStatus = Field(sa_column=Column(String(16), nullable=False))
    matures_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    source_kind: SourceKind = Field(sa_column=Column(String(32), nullable=False))
    source_ref: str = Field(sa_column=Column(String(255), nullable=False))
    rule_version_id: int | None = Field(default=None, sa_column=Column(id_type()))
    event_id: int | None = Field(default=None, sa_column=Column(id_type(), ForeignKey("events.id")))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LedgerEntry(SQLModel, table=True):
    """One posting. Inserted, never updated or deleted: corrections are new entries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_account", "account_id", "id"),
        Index("ix_ledger_entries_lot", "lot_id"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    account_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("ledger_accounts.id"), nullable=False)
    )
    # The lot this entry creates, matures, expires or reverses; None for spends and debits.
    lot_id: int | None = Field(
        default=None, sa_column=Column(id_type(), ForeignKey("ledger_lots.id"))
    )
    kind: EntryKind = Field(sa_column=Column(String(16), nullable=False))
    # Signed changes to the account's available and pending amounts, and both after this entry.
    amount: int = Field(sa_column=Column(BigInteger(), nullable=False))
    pending_amount: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    balance_after: int = Field(sa_column=Column(BigInteger(), nullable=False))
    pending_after: int = Field(sa_column=Column(BigInteger(), nullable=False))
    # A claw-back-to-zero reversal records here what it could not take back.
    unrecovered: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), unique=True))
    # A digest of the request that used the key: a replay with other parameters is refused.
    request_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    source_kind: SourceKind | None = Field(default=None, sa_column=Column(String(32)))
    source_ref: str | None = Field(default=None, sa_column=Column(String(255)))
    rule_version_id: int | None = Field(default=None, sa_column=Column(id_type()))
    event_id: int | None = Field(default=None, sa_column=Column(id_type(), ForeignKey("events.id")))
    # The rules engine's decision (rule_decisions.id) that caused the entry.
    decision_id: int | None = Field(default=None, sa_column=Column(id_type()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LedgerAllocation(SQLModel, table=True):
    """`amount` taken from a lot by an entry. Every decrease of a lot's remaining has one, so a
    lot's amount always equals its remaining plus its allocations."""

    __tablename__ = "ledger_allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_ledger_allocations_amount_positive"),
        Index("ix_ledger_allocations_entry", "entry_id"),
        Index("ix_ledger_allocations_lot", "lot_id"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    entry_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("ledger_entries.id"), nullable=False)
    )
    lot_id: int = Field(sa_column=Column(id_type(), ForeignKey("ledger_lots.id"), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger(), nullable=False))
