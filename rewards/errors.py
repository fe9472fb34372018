"""Ledger errors: a spend the balance cannot cover, a reused idempotency key."""

from __future__ import annotations

from loyalty_engine.errors import Conflict


class InsufficientBalance(Conflict):
    code = "insufficient_balance"

    def __init__(self, *, unit: str, available: int, requested: int) -> None:
        super().__init__(
            f"the {unit} balance is {available}, {requested} requested",
            details={"unit": unit, "available": available, "requested": requested},
        )


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"

    def __init__(self, idempotency_key: str) -> None:
        super().__init__(
            f"idempotency key {idempotency_key!r} was already used for a different request",
            details={"idempotency_key": idempotency_key},
        )
