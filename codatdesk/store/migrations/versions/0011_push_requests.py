"""team mode: push requests a desktop queues for the team's server, who did what, and edit versions

``push_request``: one row per expense a desktop asked to push; the server claims rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (team/requests.py). ``status_change.actor``: who made a change.
``expense.version`` (bumped by every write) and ``expense.updated_by``: a stale save is refused.

Revision ID: 0011_push_requests
Revises: 0009_change_feed
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_push_requests"
down_revision = "0010_expenses_route"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (a batch rebuild of ``expense`` would trip the foreign keys that point at it).
    op.add_column("expense", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.add_column("expense", sa.Column("updated_by", sa.String(length=100), nullable=True))
    op.add_column("status_change", sa.Column("actor", sa.String(length=100), nullable=True))
    op.create_table(
        "push_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_key", sa.String(length=64), nullable=False),
        sa.Column("expense_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("again_anyway", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["expense_id"], ["expense.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_push_request_state", "push_request", ["state", "id"], unique=False)
    op.create_index("ix_push_request_batch_key", "push_request", ["batch_key"], unique=False)
    op.create_index("ix_push_request_expense_id", "push_request", ["expense_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_push_request_expense_id", table_name="push_request")
    op.drop_index("ix_push_request_batch_key", table_name="push_request")
    op.drop_index("ix_push_request_state", table_name="push_request")
    op.drop_table("push_request")
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_column("actor")
    with op.batch_alter_table("expense", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("version")
