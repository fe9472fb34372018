"""Tier decisions (pure): upgrades at once, downgrades only after the window and the grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rewards.tiers.models import DowngradePolicy, QualificationWindow
from rewards.tiers.qualification import (
    Held,
    Level,
    Move,
    decide,
    level_for,
    measuring_since,
    qualified_until,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEVELS = [Level("silver", 1_000), Level("gold", 5_000, 15_000)]
ROLLING = QualificationWindow.ROLLING_12_MONTHS
GRACE = timedelta(days=30)


def verdict(held: Held | None, value: int, **changes: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "held": held,
        "value": value,
        "levels": LEVELS,
        "window": ROLLING,
        "downgrade": DowngradePolicy.END_OF_WINDOW,
        "grace": GRACE,
        "now": NOW,
        **changes,
    }
    return decide(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, None), (999, None), (1_000, "silver"), (4_999, "silver"), (5_000, "gold")],
)
def test_the_highest_threshold_reached_is_the_tier(value: int, expected: str | None) -> None:
    found = level_for(value, LEVELS)
    assert (found.key if found else None) == expected


def test_windows_measure_back_twelve_months_or_to_new_year() -> None:
    assert measuring_since(ROLLING, NOW) == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert qualified_until(ROLLING, NOW) == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    calendar = QualificationWindow.CALENDAR_YEAR
    assert measuring_since(calendar, NOW) == datetime(2026, 1, 1, tzinfo=UTC)
    assert qualified_until(calendar, NOW) == datetime(2027, 1, 1, tzinfo=UTC)


def test_an_upgrade_applies_at_once_and_qualifies_for_a_new_window() -> None:
    first = verdict(None, 1_200)
    assert (first.move, first.to, first.qualified_until) == (
        Move.UPGRADE,
        LEVELS[0],
        datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
    )
    skip = verdict(Held("silver", NOW + timedelta(days=10)), 7_000)
    assert (skip.move, skip.to) == (Move.UPGRADE, LEVELS[1])


def test_qualifying_again_renews_and_nothing_at_all_keeps_nothing() -> None:
    renewed = verdict(Held("silver", NOW + timedelta(days=10)), 1_500)
    assert (renewed.move, renewed.qualified_until) == (Move.RENEW, qualified_until(ROLLING, NOW))
    assert verdict(None, 10).move is Move.KEEP


def test_a_lower_qualification_waits_for_the_end_of_the_window_and_the_grace() -> None:
    gold_until = NOW - timedelta(days=29)  # the window is over, the grace is not
    assert verdict(Held("gold", gold_until), 1_500).move is Move.KEEP
    over = verdict(Held("gold", NOW - timedelta(days=30)), 1_500)
    assert (over.move, over.to) == (Move.DOWNGRADE, LEVELS[0])
    to_nothing = verdict(Held("gold", NOW - timedelta(days=31)), 10)
    assert (to_nothing.move, to_nothing.to, to_nothing.qualified_until) == (
        Move.DOWNGRADE,
        None,
        None,
    )
    never = verdict(Held("gold", NOW - timedelta(days=400)), 0, downgrade=DowngradePolicy.NEVER)
    assert never.move is Move.KEEP


def test_a_tier_the_program_no_longer_has_is_left_at_once() -> None:
    gone = verdict(Held("platinum", NOW + timedelta(days=300)), 10)
    assert (gone.move, gone.to) == (Move.DOWNGRADE, None)
    replaced = verdict(Held("platinum", NOW + timedelta(days=300)), 1_200)
    assert (replaced.move, replaced.to) == (Move.UPGRADE, LEVELS[0])
