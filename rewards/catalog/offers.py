"""Whether a customer may redeem an item now, and if not every reason why (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Offer:
    is_active: bool
    cost_points: int
    segment: str | None
    tiers: tuple[str, ...]
    stock: int | None
    per_customer_limit: int | None


def unavailable_because(
    offer: Offer,
    *,
    segments: Iterable[str],
    tier: str | None,
    redeemed: int,
    points: int | None,
) -> list[str]:
    """Every reason the customer cannot redeem the offer now (empty: they can). `points` None
    leaves the balance to the ledger, which refuses a spend it cannot cover."""
    reasons = []
    if not offer.is_active:
        reasons.append("the reward is not offered at the moment")
    if offer.segment is not None and offer.segment not in set(segments):
        reasons.append(f"only for the {offer.segment!r} segment")
    if offer.tiers and tier not in offer.tiers:
        reasons.append("only for the tiers " + ", ".join(repr(t) for t in offer.tiers))
    if offer.stock is not None and offer.stock <= 0:
        reasons.append("out of stock")
    if offer.per_customer_limit is not None and redeemed >= offer.per_customer_limit:
        reasons.append(f"limit of {offer.per_customer_limit} per customer reached")
    if points is not None and points < offer.cost_points:
        reasons.append(f"needs {offer.cost_points} points, {points} available")
    return reasons
