"""expense lines: split expenses, tracking categories per line, employee claims, push route per company

Additive only: an existing expense keeps its columns as its single line (``line_count`` 0, no
``expense_line`` rows), so nothing is copied and the table's query is unchanged.

Revision ID: 0007_expense_lines
Revises: 0006_create_models
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_expense_lines"
down_revision = "0006_create_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (a batch rebuild of company or expense would trip the foreign keys).
    op.add_column("company", sa.Column("push_route", sa.String(length=20), nullable=False,
                                       server_default="directCosts"))
    op.add_column("expense", sa.Column("line_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("expense", sa.Column("is_claim", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("expense", sa.Column("employee", sa.String(length=200), nullable=False, server_default=sa.text("''")))
    op.create_table(
        "expense_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("account_code", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("tax_code", sa.String(length=40), nullable=False),
        sa.Column("tax_rate_id", sa.String(length=64), nullable=True),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("tracking_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["expense_id"], ["expense.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("expense_id", "position", name="uq_expense_line_position"),
    )
    op.create_index("ix_expense_line_expense_id", "expense_line", ["expense_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_expense_line_expense_id", table_name="expense_line")
    op.drop_table("expense_line")
    with op.batch_alter_table("expense", schema=None) as batch_op:
        batch_op.drop_column("employee")
        batch_op.drop_column("is_claim")
        batch_op.drop_column("line_count")
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("push_route")
