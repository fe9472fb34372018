"""Retry timing: exponential growth from the base, a cap, and jitter within half the delay."""

from __future__ import annotations

import random

import pytest

from loyalty_engine.outbox.backoff import backoff_seconds


class FixedDraw(random.Random):
    """A random source that always draws the same number in [0, 1)."""

    def __init__(self, draw: float) -> None:
        super().__init__()
        self.draw = draw

    def random(self) -> float:
        return self.draw


def test_the_delay_doubles_with_each_attempt() -> None:
    lowest = [backoff_seconds(n, base=2.0, cap=10_000.0, rng=FixedDraw(0.0)) for n in range(1, 7)]
    highest = [
        backoff_seconds(n, base=2.0, cap=10_000.0, rng=FixedDraw(0.999)) for n in range(1, 7)
    ]

    assert lowest == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert highest == pytest.approx([2.0, 4.0, 8.0, 16.0, 32.0, 64.0], rel=1e-3)


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 12, 20])
def test_the_delay_stays_between_half_and_all_of_the_nominal_delay(attempt: int) -> None:
    rng = random.Random(attempt)
    nominal = min(600.0, 1.5 * 2 ** (attempt - 1))

    delays = [backoff_seconds(attempt, base=1.5, cap=600.0, rng=rng) for _ in range(500)]

    assert all(nominal / 2 <= d <= nominal for d in delays)


def test_the_cap_bounds_every_delay_even_for_huge_attempt_numbers() -> None:
    delays = [
        backoff_seconds(n, base=2.0, cap=3_600.0, rng=random.Random(n)) for n in (12, 64, 10_000)
    ]

    assert all(1_800.0 <= d <= 3_600.0 for d in delays)


def test_jitter_spreads_retries_that_failed_together() -> None:
    rng = random.Random(42)

    delays = [backoff_seconds(4, base=1.0, cap=3_600.0, rng=rng) for _ in range(200)]

    assert len(set(delays)) > 190
    assert min(delays) < 4.4
    assert max(delays) > 7.6


def test_without_a_random_source_the_module_default_is_used() -> None:
    assert 4.0 <= backoff_seconds(3, base=2.0, cap=60.0) <= 8.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        backoff_seconds(attempt, base=1.0, cap=10.0)
