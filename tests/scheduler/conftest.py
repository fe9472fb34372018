"""Scheduler fixtures: quick leader polling, and waiting for what other threads bring about."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from loyalty_engine.config import Settings

MISFIRE_GRACE_SECONDS = 42


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The suite's settings, with a leader poll fast enough for tests and a recognisable grace."""
    return Settings(
        database_url=db_url,
        outbox_backoff_base_seconds=1.0,
        outbox_max_attempts=3,
        scheduler_leader_poll_seconds=0.05,
        scheduler_misfire_grace_seconds=MISFIRE_GRACE_SECONDS,
    )


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition` until it is truthy or `timeout` seconds pass; its last verdict."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(interval)
    return True
