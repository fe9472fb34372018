"""milestones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loyalty_engine.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "milestones",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("required_steps", sa.Integer(), nullable=True),
        sa.Column("required_bps", sa.Integer(), nullable=True),
        sa.Column("condition", JSON, nullable=True),
        sa.Column("created_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "milestone_step_counts",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("milestone_id", ID, nullable=False),
        sa.Column("step_key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", "milestone_id", "step_key"),
    )
    op.create_table(
        "milestone_achievements",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("milestone_id", ID, nullable=False),
        sa.Column("achieved_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("achieved_by", sa.String(length=16), nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "milestone_id", name="uq_milestone_achievements_once"),
    )
    op.create_table(
        "customer_renewals",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("renewals", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", loyalty_engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    # Renewals stored before this revision count too: customer.renewals starts from the events.
    op.execute(
        "INSERT INTO customer_renewals (customer_id, renewals, updated_at) "
        "SELECT customer_id, COUNT(*), MAX(received_at) FROM events "
        "WHERE type = 'renewed' GROUP BY customer_id"
    )


def downgrade() -> None:
    op.drop_table("customer_renewals")
    op.drop_table("milestone_achievements")
    op.drop_table("milestone_step_counts")
    op.drop_table("milestones")
