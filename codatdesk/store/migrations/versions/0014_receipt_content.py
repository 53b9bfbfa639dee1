"""team mode: receipts' bytes in the shared database

``receipt_content``: one row per receipt file (by its sha256) on a team's PostgreSQL, so the server uploads
what a desktop attached and every desktop can show it. One person's SQLite keeps the files in the data
folder only; the table stays empty there.

Revision ID: 0014_receipt_content
Revises: 0013_postgres_timestamptz
"""
import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = "0014_receipt_content"
down_revision = "0013_postgres_timestamptz"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_content",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("receipt_content")
