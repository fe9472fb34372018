"""Milestone progress, pure: how many steps are required, which are done, and the fraction a
progress bar shows. Counts in, values out; integers only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BPS = 10_000


@dataclass(frozen=True, slots=True)
class Goal:
    """A step as progress sees it: `needed` matching events complete it."""

    key: str
    needed: int


@dataclass(frozen=True, slots=True)
class Fraction:
    numerator: int
    denominator: int

    @property
    def percent(self) -> int:
        """Rounded down, so that 100 means complete (2 of 3 is 66)."""
        return self.numerator * 100 // self.denominator


@dataclass(frozen=True, slots=True)
class StepState:
    key: str
    count: int
    needed: int

    @property
    def done(self) -> bool:
        return self.count >= self.needed


@dataclass(frozen=True, slots=True)
class Progress:
    steps: tuple[StepState, ...]
    done_steps: int
    required_steps: int
    fraction: Fraction
    achieved: bool


def required_count(total: int, *, steps: int | None, bps: int | None) -> int:
    """How many of `total` steps must be done: `steps`, or a share in basis points rounded up
    (at least 80% of 5 steps is 4; of 3 steps, 3), or all of them."""
    if steps is not None:
        return min(steps, total)
    if bps is not None:
        return -(-total * bps // BPS)
    return total


def step_states(goals: Sequence[Goal], counts: Mapping[str, int]) -> tuple[StepState, ...]:
    return tuple(StepState(g.key, counts.get(g.key, 0), g.needed) for g in goals)


def steps_complete(goals: Sequence[Goal], required: int, counts: Mapping[str, int]) -> bool:
    return sum(1 for s in step_states(goals, counts) if s.done) >= required


def progress(
    goals: Sequence[Goal],
    required: int,
    counts: Mapping[str, int],
    *,
    has_condition: bool,
    achieved: bool,
) -> Progress:
    """Steps done (at most those required) out of those required; a condition is one more part,
    done only on achievement (it is checked at event time, not here). A milestone with neither
    is 0/1 until granted. Once achieved, the fraction is whole whatever the counts say."""
    states = step_states(goals, counts)
    done = sum(1 for s in states if s.done)
    denominator = required + (1 if has_condition else 0)
    if denominator == 0:  # a manual milestone
        denominator = 1
    numerator = denominator if achieved else min(done, required)
    return Progress(states, done, required, Fraction(numerator, denominator), achieved)
