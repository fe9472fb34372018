"""Requests and answers of the ledger API: balances, the ledger, adjustments and redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

# "points", or a currency as a lowercase ISO 4217 code (its amounts are minor units).
Unit = Annotated[
    str,
    StringConstraints(pattern=r"^(points|[a-z]{3})$"),
    Field(description='"points", or a lowercase ISO 4217 currency code such as "usd".'),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=500),
    Field(description="Why: shown in the ledger to staff and to the customer."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expiry(BaseModel):
    at: datetime
    amount: int


class BalanceRead(BaseModel):
    unit: str
    available: int = Field(description="Spendable now.")
    pending: int = Field(description="Granted but held until their lots mature.")
    debt: int = Field(description="Owed after a reversal; repaid first by the next grants.")
    expiring_soon: int = Field(description="Available amount whose lots expire within the window.")
    next_expiry: Expiry | None = Field(description="The earliest expiry and how much it removes.")


class BalancesRead(BaseModel):
    customer_id: str
    as_of: datetime
    expiring_within_days: int
    balances: list[BalanceRead]


class LedgerEntryRead(BaseModel):
    id: int
    unit: str
    kind: str
    amount: int = Field(description="Signed change to the available balance.")
    pending_amount: int = Field(description="Signed change to the pending balance.")
    balance_after: int
    pending_after: int
    unrecovered: int = Field(description="What a claw-back reversal could not take back.")
    reason: str
    source_kind: str | None
    source_ref: str | None
    lot_id: int | None
    event_id: int | None
    decision_id: int | None
    decision_url: str | None = Field(description="The rule decision (with its trace) behind it.")
    created_at: datetime


class LedgerPage(BaseModel):
    data: list[LedgerEntryRead]
    next_cursor: str | None


class AdjustmentCreate(_Strict):
    unit: Unit
    amount: StrictInt = Field(description="Signed: positive adds a lot, negative takes from lots.")
    reason: Reason


class RedemptionCreate(_Strict):
    unit: Unit = "points"
    amount: StrictInt = Field(gt=0, description="How much to spend (points or minor units).")
    reason: Reason = "redemption"


class PostedRead(BaseModel):
    """An adjustment or redemption as posted, with the balance after it."""

    entry: LedgerEntryRead
    balance: BalanceRead
    replayed: bool = Field(description="True when the idempotency key returned an earlier entry.")
