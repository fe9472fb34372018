"""Pytest fixtures: a Stripe emulator on the test clock, and a real SDK client pointed at it.

Import them in a conftest: `from tests.stripe_emulator.fixtures import stripe_client,
stripe_emulator  # noqa: F401`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from loyalty_engine.billing.stripe_gateway import make_client
from loyalty_engine.clock import FrozenClock
from tests.stripe_emulator.emulator import StripeEmulator


@pytest.fixture
def stripe_emulator(clock: FrozenClock) -> Iterator[StripeEmulator]:
    with StripeEmulator(now=lambda: int(clock.now().timestamp())) as emulator:
        yield emulator


@pytest.fixture
def stripe_client(stripe_emulator: StripeEmulator) -> stripe.StripeClient:
    return make_client(stripe_emulator.api_key, api_base=stripe_emulator.url, timeout_seconds=5)
