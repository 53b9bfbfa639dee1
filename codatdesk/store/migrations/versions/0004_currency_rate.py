"""currency: the company's base currency, an expense's rate, and the user's rate table

A foreign-currency direct cost needs Codat's ``currencyRate`` (codatio/codat-docs
``docs/expenses/fx-management.md``); QuickBooks Online books a null rate as 1
(``static/oas/Codat-Sync-Expenses.json``, ``currencyRate``). Rates are stored as exact
decimal text (Codat gives up to 9 decimals), never as floats.

Revision ID: 0004_currency_rate
Revises: 0003_idempotency_key
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_currency_rate"
down_revision = "0003_idempotency_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("base_currency_read_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("expense", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency_rate", sa.String(length=40), nullable=True))
    op.create_table(
        "currency_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "currency", "valid_from", name="uq_currency_rate"),
    )
    op.create_index("ix_currency_rate_company_id", "currency_rate", ["company_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_currency_rate_company_id", table_name="currency_rate")
    op.drop_table("currency_rate")
    with op.batch_alter_table("expense", schema=None) as batch_op:
        batch_op.drop_column("currency_rate")
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("base_currency_read_at")
        batch_op.drop_column("base_currency")
