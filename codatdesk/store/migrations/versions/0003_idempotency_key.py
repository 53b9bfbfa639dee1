"""push_attempt: the Idempotency-Key and the exact request body of each push, stored before it is sent

A push whose answer is lost is sent again with the same key and the same bytes while Codat keeps
the first answer (90 minutes: codatio/codat-docs docs/using-the-api/write-data/idempotency.md).
Attempts made before this revision have neither and are resolved from Codat's push history.

Revision ID: 0003_idempotency_key
Revises: 0002_outcome_unknown
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_idempotency_key"
down_revision = "0002_outcome_unknown"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("push_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("request_json", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_push_attempt_idempotency_key"), ["idempotency_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_attempt_idempotency_key"))
        batch_op.drop_column("request_json")
        batch_op.drop_column("idempotency_key")
