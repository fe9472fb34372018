"""Settings read from the environment (`LOYALTY_*`, plus `DATABASE_URL`), with safe defaults."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="sqlite:///./loyalty.db",
        validation_alias=AliasChoices("DATABASE_URL", "LOYALTY_DATABASE_URL"),
    )
    host: str = "127.0.0.1"
    port: int = 8000

    # Signs customer tokens. When unset, a random key is generated once and kept in the
    # database (table instance_secrets) so that every process of one installation shares it.
    secret_key: str | None = None
    # Signs outbound webhooks (share it with the receivers); by default a key derived from the
    # instance secret, which then is not shared.
    webhook_secret: str | None = None
    customer_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    customer_token_max_ttl_seconds: int = Field(default=86_400, ge=30)

    max_batch_events: int = Field(default=1_000, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_event_properties_bytes: int = Field(default=32 * 1024, ge=256)
    # Events may be stamped a little ahead of our clock (their senders' clocks drift).
    event_future_tolerance_seconds: int = Field(default=3_600, ge=0)

    outbox_max_attempts: int = Field(default=10, ge=1)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=3_600.0, gt=0)
    outbox_lease_seconds: int = Field(default=120, ge=1)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=50, ge=1)
    outbox_delivered_retention_days: int = Field(default=30, ge=1)
    # A `points_expiring` event is emitted this many days before a lot expires (for reminders).
    points_expiring_notice_days: int = Field(default=14, ge=1, le=365)
    # A `renewal_upcoming` event is emitted this many days before a customer's renewal_on.
    renewal_notice_days: int = Field(default=30, ge=1, le=365)
    # The milestone that says a customer uses the product's main features: with a renewal, what
    # the loyalty stage needs (LOYALTY_MAIN_FEATURES_MILESTONE).
    main_features_milestone: str = Field(
        default="main_features", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"
    )

    # Stripe: set the secret key to apply credits and discounts in Stripe (LOYALTY_STRIPE_API_KEY);
    # without it billing effects go to an in-memory gateway (demo) and billing systems use the
    # renewal quote API. The base address is for a local emulator or stripe-mock.
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    # Writes per second to Stripe from one process (Stripe allows 25/s in test mode, 100/s live).
    stripe_max_writes_per_second: float = Field(default=25.0, gt=0, le=100)
    # Stripe webhooks (POST /v1/billing/stripe/webhook): the endpoint's signing secret, and the
    # previous one while rotating; signatures older or newer than the tolerance are refused.
    stripe_webhook_secret: str | None = None
    stripe_webhook_secret_previous: str | None = None
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3_600)
    # Move available currency credit onto the billing customer's balance; None: only with Stripe.
    billing_apply_credits: bool | None = None
    # While the billing system refuses our credentials, one message probes it this often.
    billing_pause_probe_seconds: float = Field(default=60.0, gt=0)

    scheduler_misfire_grace_seconds: int = Field(default=300, ge=1)
    scheduler_leader_poll_seconds: float = Field(default=5.0, gt=0)

    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)

    log_level: str = "info"
