"""A stateful Stripe emulator on loopback for the tests (see `emulator.StripeEmulator`)."""

from tests.stripe_emulator.emulator import Fault, StripeEmulator

__all__ = ["Fault", "StripeEmulator"]
