"""three times stored with their time zone on PostgreSQL, like every other

0004 and 0006 created ``company.base_currency_read_at``, ``currency_rate.updated_at`` and
``create_model.fetched_at`` as plain ``DateTime`` while the models say ``UTCDateTime``
(``timestamp with time zone``). SQLite stores both alike; PostgreSQL would convert an aware
time through the session's time zone into a naive column and shift it by that offset. Found by
the drift check running on PostgreSQL (issue #15). Values are read as UTC, as codatdesk wrote them.

Revision ID: 0007_postgres_timestamptz
Revises: 0006_create_models
"""
from alembic import op

revision = "0007_postgres_timestamptz"
down_revision = "0006_create_models"
branch_labels = None
depends_on = None

COLUMNS = (("company", "base_currency_read_at"), ("currency_rate", "updated_at"), ("create_model", "fetched_at"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no separate type for it: nothing to change
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE timestamp with time zone '
                   f"USING {column} AT TIME ZONE 'UTC'")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE timestamp without time zone "
                   f"USING {column} AT TIME ZONE 'UTC'")
