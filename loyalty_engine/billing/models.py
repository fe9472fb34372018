"""Billing records: each transfer of ledger credit to the billing system, and the alerts that
say billing delivery is stopped."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime, id_type, pk_column


class TransferDirection(StrEnum):
    CREDIT = "credit"  # ledger credit moved onto the billing customer's balance
    REVERSAL = "reversal"  # a credit taken back from that balance (the ledger owed it)


class TransferStatus(StrEnum):
    PENDING = "pending"  # posted in the ledger, queued for the billing system
    APPLIED = "applied"  # the billing system confirmed it: `external_id` is its id
    FAILED = "failed"  # the billing system refused it for good: see `last_error`
    RETURNED = "returned"  # a failed credit given back to the ledger; never sent again


class BillingTransfer(SQLModel, table=True):
    """One movement between our ledger and the billing customer's balance: the ledger entry that
    made it, the outbox message that carries it, and (once applied) the billing system's id."""

    __tablename__ = "billing_transfers"
    __table_args__ = (
        Index("ix_billing_transfers_account", "account_id", "status"),
        Index("ix_billing_transfers_customer", "customer_id"),
        Index("ix_billing_transfers_status", "status"),
        CheckConstraint("amount > 0", name="ck_billing_transfers_amount_positive"),
    )

    id: int | None = Field(default=None, sa_column=pk_column())
    customer_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("customers.id"), nullable=False)
    )
    account_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("ledger_accounts.id"), nullable=False)
    )
    currency: str = Field(sa_column=Column(String(16), nullable=False))
    direction: TransferDirection = Field(sa_column=Column(String(16), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger(), nullable=False))
    billing_customer_id: str = Field(sa_column=Column(String(255), nullable=False))
    gateway: str = Field(sa_column=Column(String(32), nullable=False))
    entry_id: int = Field(
        sa_column=Column(id_type(), ForeignKey("ledger_entries.id"), nullable=False)
    )
    outbox_message_id: int | None = Field(default=None, sa_column=Column(id_type()))
    status: TransferStatus = Field(sa_column=Column(String(16), nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(255)))
    last_error: str | None = Field(default=None, sa_column=Column(Text()))
    return_entry_id: int | None = Field(default=None, sa_column=Column(id_type()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class BillingAlert(SQLModel, table=True):
    """A reason billing delivery is stopped (e.g. Stripe refused our key). Open while
    `cleared_at` is None; shown by /readyz and the console; cleared by the next success."""

    __tablename__ = "billing_alerts"

    id: int | None = Field(default=None, sa_column=pk_column())
    gateway: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    message: str = Field(sa_column=Column(Text(), nullable=False))
    raised_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    cleared_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
