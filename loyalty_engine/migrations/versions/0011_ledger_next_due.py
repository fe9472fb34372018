"""ledger accounts remember when a lot next matures or expires

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 01:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import loyalty_engine.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.add_column(
            sa.Column("next_due_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Existing accounts: due at once, so that their next write catches up and computes it.
    accounts = sa.table(
        "ledger_accounts", sa.column("next_due_at", loyalty_engine.db.UTCDateTime(timezone=True))
    )
    op.execute(accounts.update().values(next_due_at=datetime(1970, 1, 1, tzinfo=UTC)))


def downgrade() -> None:
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.drop_column("next_due_at")
