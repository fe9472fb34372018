"""The one source of time: every datetime in the engine comes from an injected `Clock`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware and in UTC."""
        ...


class SystemClock:
    """Wall-clock time, the production clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: tests drive time with `advance()` and `set()`."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._at = self._at + step
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = ensure_utc(at)


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes; convert aware ones to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: every instant in the engine must carry a timezone")
    return value.astimezone(UTC)
