"""expenses route: a stable transaction id per expense, and one row per transaction sent in an Expenses sync

Additive only. ``expense.transaction_id`` is Codat's idempotency key on the Expenses route (set once, at the
expense's first push there, never changed); ``expense_sync_item`` records which sync carried which expense
and what Codat said of it.

Revision ID: 0010_expenses_route
Revises: 0007_expense_lines
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_expenses_route"
# Chained after x16b's 0007 (this branch contains it; one head is required): the integrator re-chains at merge.
down_revision = "0009_change_feed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("expense", sa.Column("transaction_id", sa.String(length=36), nullable=True))
    op.create_index("ix_expense_transaction_id", "expense", ["transaction_id"], unique=True)
    op.create_table(
        "expense_sync_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("sync_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("reimbursable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["expense_id"], ["expense.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sync_id", "transaction_id", name="uq_expense_sync_item"),
    )
    with op.batch_alter_table("expense_sync_item") as batch_op:
        batch_op.create_index("ix_expense_sync_item_sync_id", ["sync_id"])
        batch_op.create_index("ix_expense_sync_item_expense_id", ["expense_id"])
        batch_op.create_index("ix_expense_sync_item_status", ["status"])


def downgrade() -> None:
    op.drop_table("expense_sync_item")
    op.drop_index("ix_expense_transaction_id", table_name="expense")
    op.drop_column("expense", "transaction_id")
