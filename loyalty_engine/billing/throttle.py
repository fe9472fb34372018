"""A token bucket that keeps billing writes below a rate (Stripe's own limit is 100/s live and
25/s in test mode; one installation's workers share the budget only per process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """`acquire()` blocks until a write may go: at most `rate` per second, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._at = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited. A caller that
        must wait reserves its token first, so that concurrent callers queue behind it."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
