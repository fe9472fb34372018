from tests.stripe_emulator.fixtures import stripe_client, stripe_emulator  # noqa: F401
