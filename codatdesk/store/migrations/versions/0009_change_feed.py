"""change feed: every committed change in commit order, so other processes on a shared
(PostgreSQL) database see it and a desktop that was away catches up (codatdesk/team/change_feed.py)

Revision ID: 0009_change_feed
Revises: 0006_create_models
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_change_feed"
down_revision = "0008_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        # BIGINT on PostgreSQL (a busy team passes 2^31 changes); SQLite's INTEGER is its 64-bit rowid.
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_change_log_at", "change_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_change_log_at", table_name="change_log")
    op.drop_table("change_log")
