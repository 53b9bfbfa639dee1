"""transaction type: an expense may name Codat's expense transaction type (Payment, Refund, Reward, Chargeback)

Additive only: a nullable column; existing expenses keep None (their sign says the type, as before).

Revision ID: 0012_transaction_type
Revises: 0010_expenses_route
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_transaction_type"
down_revision = "0011_push_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("expense", sa.Column("transaction_type", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("expense") as batch_op:
        batch_op.drop_column("transaction_type")
