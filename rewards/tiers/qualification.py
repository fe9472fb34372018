"""Which tier a customer qualifies for, and whether that changes their tier now (pure).

Upgrades apply at once. A lower qualification changes nothing until the window the tier was
earned in is over and the grace period has passed (or never, per program). Qualifying again
for the tier held (or a higher one) renews it for another window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from loyalty_engine.rules.windows import add_months
from rewards.tiers.models import DowngradePolicy, QualificationWindow


@dataclass(frozen=True, slots=True)
class Level:
    """A tier of the program, as the pure functions need it."""

    key: str
    threshold: int
    multiplier_bps: int = 10_000


@dataclass(frozen=True, slots=True)
class Held:
    """The tier a customer holds and until when it is qualified."""

    key: str
    qualified_until: datetime


class Move(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    RENEW = "renew"  # qualified again for the tier held (or above it, within the top tier)
    KEEP = "keep"  # nothing to write


@dataclass(frozen=True, slots=True)
class Verdict:
    move: Move
    to: Level | None  # the tier after the move (None: no tier)
    qualified_until: datetime | None


def level_for(value: int, levels: list[Level]) -> Level | None:
    """The highest tier whose threshold `value` reaches (levels in ascending threshold order)."""
    found = None
    for level in levels:
        if value >= level.threshold:
            found = level
    return found


def measuring_since(window: QualificationWindow, now: datetime) -> datetime:
    """Where the qualification window that ends now begins."""
    if window == QualificationWindow.CALENDAR_YEAR:
        return datetime(now.year, 1, 1, tzinfo=UTC)
    return add_months(now, -12)


def qualified_until(window: QualificationWindow, now: datetime) -> datetime:
    """How long a qualification earned now holds: twelve months, or to the end of the year."""
    if window == QualificationWindow.CALENDAR_YEAR:
        return datetime(now.year + 1, 1, 1, tzinfo=UTC)
    return add_months(now, 12)


def decide(
    *,
    held: Held | None,
    value: int,
    levels: list[Level],
    window: QualificationWindow,
    downgrade: DowngradePolicy,
    grace: timedelta,
    now: datetime,
) -> Verdict:
    qualified = level_for(value, levels)
    rank = {level.key: i for i, level in enumerate(levels)}
    held_rank = rank.get(held.key, -1) if held is not None else -1
    new_rank = rank[qualified.key] if qualified is not None else -1
    until = qualified_until(window, now)
    if new_rank > held_rank:
        return Verdict(Move.UPGRADE, qualified, until)
    if held is None:
        return Verdict(Move.KEEP, None, None)
    if held.key not in rank:  # the program no longer has that tier: nothing to wait for
        return Verdict(Move.DOWNGRADE, None, None)
    if new_rank == held_rank:
        return Verdict(Move.RENEW, qualified, until) if until > held.qualified_until else _keep()
    if downgrade == DowngradePolicy.NEVER or now < held.qualified_until + grace:
        return _keep()
    return Verdict(Move.DOWNGRADE, qualified, until if qualified is not None else None)


def _keep() -> Verdict:
    return Verdict(Move.KEEP, None, None)
