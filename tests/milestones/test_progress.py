"""Progress, pure: how many steps a share requires, what a progress bar shows, integers only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.milestones.progress import Goal, progress, required_count, steps_complete

FIVE = [Goal(f"s{i}", 1) for i in range(5)]


@pytest.mark.parametrize(
    ("total", "steps", "bps", "required"),
    [
        (5, None, 8_000, 4),  # at least 80% of 5 steps
        (3, None, 8_000, 3),  # 80% of 3 is 2.4: rounded up, never below the share
        (4, None, 5_000, 2),
        (5, None, 1, 1),
        (5, None, 10_000, 5),
        (5, 2, None, 2),
        (5, None, None, 5),  # all by default
        (0, None, None, 0),
    ],
)
def test_the_required_number_of_steps(
    total: int, steps: int | None, bps: int | None, required: int
) -> None:
    assert required_count(total, steps=steps, bps=bps) == required


@given(st.integers(1, 50), st.integers(1, 10_000))
def test_a_share_never_requires_less_than_it_says(total: int, bps: int) -> None:
    required = required_count(total, steps=None, bps=bps)
    assert required * 10_000 >= total * bps
    assert (required - 1) * 10_000 < total * bps
    assert 1 <= required <= total


def test_four_of_five_onboarding_steps_complete_eighty_percent() -> None:
    counts = {"s0": 1, "s1": 2, "s2": 1}
    assert not steps_complete(FIVE, 4, counts)
    state = progress(FIVE, 4, counts, has_condition=False, achieved=False)
    assert (state.done_steps, state.required_steps) == (3, 4)
    assert (state.fraction.numerator, state.fraction.denominator) == (3, 4)
    assert state.fraction.percent == 75
    assert steps_complete(FIVE, 4, {**counts, "s4": 1})


def test_a_step_needing_several_events_is_done_at_its_count() -> None:
    goals = [Goal("dashboards", 3), Goal("reports", 3), Goal("automations", 3)]
    state = progress(goals, 3, {"dashboards": 3, "reports": 2}, has_condition=False, achieved=False)
    assert [(s.key, s.count, s.needed, s.done) for s in state.steps] == [
        ("dashboards", 3, 3, True),
        ("reports", 2, 3, False),
        ("automations", 0, 3, False),
    ]
    assert (state.fraction.numerator, state.fraction.denominator, state.fraction.percent) == (
        1,
        3,
        33,
    )


def test_done_steps_beyond_those_required_do_not_overfill_the_bar() -> None:
    counts = {"s0": 1, "s1": 1, "s2": 1, "s3": 1, "s4": 1}
    state = progress(FIVE, 4, counts, has_condition=False, achieved=False)
    assert (state.done_steps, state.fraction.numerator, state.fraction.denominator) == (5, 4, 4)


def test_a_condition_is_one_more_part_done_only_on_achievement() -> None:
    steps_done = progress(FIVE[:2], 2, {"s0": 1, "s1": 1}, has_condition=True, achieved=False)
    assert (steps_done.fraction.numerator, steps_done.fraction.denominator) == (2, 3)
    assert steps_done.fraction.percent == 66  # rounded down: 100 only when complete
    only = progress([], 0, {}, has_condition=True, achieved=False)
    assert (only.fraction.numerator, only.fraction.denominator) == (0, 1)


def test_achieved_is_whole_whatever_the_counts_and_a_manual_milestone_is_zero_or_one() -> None:
    granted = progress(FIVE, 4, {}, has_condition=False, achieved=True)
    assert (granted.fraction.numerator, granted.fraction.denominator) == (4, 4)
    assert granted.fraction.percent == 100
    manual = progress([], 0, {}, has_condition=False, achieved=False)
    assert (manual.fraction.numerator, manual.fraction.denominator) == (0, 1)
    assert progress([], 0, {}, has_condition=False, achieved=True).fraction.percent == 100
