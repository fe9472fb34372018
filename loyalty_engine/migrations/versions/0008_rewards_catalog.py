"""rewards catalog

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loyalty_engine.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reward_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("fulfilment", JSON, nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("tiers", JSON, nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cost_points > 0", name="ck_reward_items_cost_positive"),
        sa.CheckConstraint(
            "stock IS NULL OR stock >= 0", name="ck_reward_items_stock_not_negative"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "reward_redemptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spend_entry_id", ID, nullable=False),
        sa.Column("refund_entry_id", ID, nullable=True),
        sa.Column("outbox_message_id", ID, nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["reward_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(
        "ix_reward_redemptions_customer",
        "reward_redemptions",
        ["customer_id", "item_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reward_redemptions_customer", table_name="reward_redemptions")
    op.drop_table("reward_redemptions")
    op.drop_table("reward_items")
