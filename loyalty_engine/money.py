"""Integer money: minor units beside a currency, basis points, and the only rounding rules."""

from __future__ import annotations

import re
from collections.abc import Sequence

BPS_DENOMINATOR = 10_000
_CURRENCY = re.compile(r"^[a-z]{3}$")


def normalize_currency(code: str) -> str:
    """ISO 4217 code in lowercase (Stripe's convention), or ValueError."""
    lowered = code.strip().lower()
    if not _CURRENCY.fullmatch(lowered):
        raise ValueError(f"currency must be a three-letter ISO 4217 code, got {code!r}")
    return lowered


def apply_bps_floor(amount_minor: int, bps: int) -> int:
    """`amount * bps / 10 000`, rounded down (discounts and earned points never round up)."""
    _require_int(amount_minor, "amount_minor")
    _require_int(bps, "bps")
    return (amount_minor * bps) // BPS_DENOMINATOR


def per_unit_floor(amount: int, *, per: int, unit: int = 1) -> int:
    """`unit` for every whole `per` of `amount` (e.g. 1 point per 100 cents), rounded down."""
    _require_int(amount, "amount")
    if per <= 0:
        raise ValueError("per must be positive")
    return (amount // per) * unit


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` so that the parts always sum to `total`.

    Each part gets its floor share; the remaining units go to the largest remainders
    (ties to the earlier weight).
    """
    _require_int(total, "total")
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    leftover = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def _require_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
