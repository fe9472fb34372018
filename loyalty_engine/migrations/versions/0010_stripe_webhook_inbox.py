"""stripe webhook inbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loyalty_engine.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "stripe_webhook_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column(
            "stripe_created_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("received_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stripe_event_id"),
    )
    op.create_index(
        "ix_stripe_webhook_events_due", "stripe_webhook_events", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_stripe_webhook_events_customer",
        "stripe_webhook_events",
        ["stripe_customer_id", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_webhook_events_customer", table_name="stripe_webhook_events")
    op.drop_index("ix_stripe_webhook_events_due", table_name="stripe_webhook_events")
    op.drop_table("stripe_webhook_events")
