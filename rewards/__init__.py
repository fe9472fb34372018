"""Rewards: the per-grant ledger (accounts, lots, append-only entries) and its use cases.

Tiers, the rewards catalog and renewal discounts build on it.
"""

from rewards.errors import IdempotencyKeyReused, InsufficientBalance
from rewards.ledger import ReversalPolicy
from rewards.models import (
    EntryKind,
    LedgerAccount,
    LedgerAllocation,
    LedgerEntry,
    LedgerLot,
    LotStatus,
    SourceKind,
)
from rewards.postings import PostedEntry
from rewards.service import (
    Balance,
    account_problems,
    adjust,
    balances,
    check_account,
    expire_due,
    grant,
    mature_due,
    reverse_source,
    spend,
)

__all__ = [
    "Balance",
    "EntryKind",
    "IdempotencyKeyReused",
    "InsufficientBalance",
    "LedgerAccount",
    "LedgerAllocation",
    "LedgerEntry",
    "LedgerLot",
    "LotStatus",
    "PostedEntry",
    "ReversalPolicy",
    "SourceKind",
    "account_problems",
    "adjust",
    "balances",
    "check_account",
    "expire_due",
    "grant",
    "mature_due",
    "reverse_source",
    "spend",
]
