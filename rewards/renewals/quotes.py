"""Which renewal discounts a customer qualifies for, and how they combine (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rewards.renewals.models import Combination


@dataclass(frozen=True, slots=True)
class Candidate:
    discount_bps: int
    reason: str
    policy: str | None = None  # the policy's key; None for a tier's own benefit


def candidates(
    policies: Iterable[dict[str, Any]],
    *,
    segments: Iterable[str],
    tier: str | None,
    tier_benefit_bps: int,
    tier_name: str | None,
) -> list[Candidate]:
    """The discounts whose conditions hold: a policy names a segment, a tier, or both (all must
    hold); a tier's own renewal benefit counts when `tier_benefit_bps` is given."""
    member_of = set(segments)
    found = []
    for policy in policies:
        segment, wanted_tier = policy.get("segment"), policy.get("tier")
        if segment is not None and segment not in member_of:
            continue
        if wanted_tier is not None and wanted_tier != tier:
            continue
        found.append(Candidate(policy["discount_bps"], _why(policy), policy["key"]))
    if tier is not None and tier_benefit_bps > 0:
        found.append(Candidate(tier_benefit_bps, f"{tier_name or tier} tier benefit"))
    return found


def _why(policy: dict[str, Any]) -> str:
    parts = []
    if policy.get("segment"):
        parts.append(f"segment {policy['segment']!r}")
    if policy.get("tier"):
        parts.append(f"tier {policy['tier']!r}")
    return f"{policy['name']} ({' and '.join(parts)})"


def combine(found: list[Candidate], *, combination: Combination, cap_bps: int) -> int:
    """The discount to apply, in basis points (never above the cap, nor above 100%)."""
    if not found:
        return 0
    if combination == Combination.BEST_OF:
        return min(max(c.discount_bps for c in found), cap_bps, 10_000)
    return min(sum(c.discount_bps for c in found), cap_bps, 10_000)
