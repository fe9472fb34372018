"""billing transfers and alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loyalty_engine.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_transfers",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("billing_customer_id", sa.String(length=255), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("outbox_message_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("return_entry_id", ID, nullable=True),
        sa.Column("created_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_billing_transfers_amount_positive"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_billing_transfers_account", "billing_transfers", ["account_id", "status"])
    op.create_index("ix_billing_transfers_customer", "billing_transfers", ["customer_id"])
    op.create_index("ix_billing_transfers_status", "billing_transfers", ["status"])
    op.create_table(
        "billing_alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gateway"),
    )


def downgrade() -> None:
    op.drop_table("billing_alerts")
    op.drop_index("ix_billing_transfers_status", table_name="billing_transfers")
    op.drop_index("ix_billing_transfers_customer", table_name="billing_transfers")
    op.drop_index("ix_billing_transfers_account", table_name="billing_transfers")
    op.drop_table("billing_transfers")
