"""create models: each connection's PushOption trees (required fields, lengths, allowed values),
and whether codatdesk may create a company's missing suppliers

Read from ``GET /companies/{id}/connections/{id}/options/{dataType}`` (codat-docs
``docs/using-the-api/push.md``, "Get model") so an expense a ledger would refuse is stopped
before it is sent.

Revision ID: 0006_create_models
Revises: 0005_rate_author
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_create_models"
down_revision = "0005_rate_author"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of ``company`` would trip the expenses' foreign keys).
    op.add_column("company", sa.Column("create_suppliers", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "create_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("data_type", sa.String(length=40), nullable=False),
        sa.Column("model_json", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "connection_id", "data_type", name="uq_create_model"),
    )
    op.create_index("ix_create_model_company_id", "create_model", ["company_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_create_model_company_id", table_name="create_model")
    op.drop_table("create_model")
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("create_suppliers")
