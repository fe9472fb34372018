"""Retry timing: exponential backoff with jitter (pure)."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before retry number `attempt` (1 = the first retry): "equal jitter".

    Half of `min(cap, base·2^(attempt-1))` is fixed and half is random, so retries spread out
    but never come back sooner than half the nominal delay.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    nominal = min(cap, base * (1 << min(attempt - 1, 62)))
    draw: float = (rng or random).random()
    return nominal / 2 + draw * nominal / 2
