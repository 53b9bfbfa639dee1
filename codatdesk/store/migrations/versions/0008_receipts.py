"""receipts: files attached to expenses (content-addressed in the data folder) and their upload state

Revision ID: 0008_receipts
Revises: 0006_create_models
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_receipts"
down_revision = "0007_expense_lines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("upload_status", sa.String(length=20), nullable=False),
        sa.Column("upload_detail", sa.Text(), nullable=False),
        sa.Column("upload_key", sa.String(length=64), nullable=True),
        sa.Column("upload_started_at", sa.DateTime(), nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["expense_id"], ["expense.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("expense_id", "sha256", name="uq_receipt_file"),
    )
    op.create_index("ix_receipt_expense_id", "receipt", ["expense_id"], unique=False)
    op.create_index("ix_receipt_sha256", "receipt", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipt_sha256", table_name="receipt")
    op.drop_index("ix_receipt_expense_id", table_name="receipt")
    op.drop_table("receipt")
