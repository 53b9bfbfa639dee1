"""every time is stored with its time zone on PostgreSQL

Earlier migrations created some columns as plain ``DateTime`` (``company.base_currency_read_at``,
``currency_rate.updated_at``, ``create_model.fetched_at``, the receipt's times) while the models say
``UTCDateTime`` (``timestamp with time zone``). SQLite stores both alike; PostgreSQL would convert an
aware time through the session's time zone into a naive column and shift it by that offset. Found by
the drift check running on PostgreSQL (issue #15). Every naive column becomes aware, its values read as
UTC, as codatdesk wrote them. (A later migration should write ``UTCDateTime``; the drift check on
PostgreSQL says so if it does not.)

Revision ID: 0013_postgres_timestamptz
Revises: 0012_transaction_type
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_postgres_timestamptz"
down_revision = "0012_transaction_type"
branch_labels = None
depends_on = None


def _columns(kind: str) -> list[tuple[str, str]]:
    rows = op.get_bind().execute(sa.text(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND data_type = :kind AND table_name <> 'alembic_version' ORDER BY table_name, column_name"), {"kind": kind})
    return [(table, column) for table, column in rows]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no separate type for it: nothing to change
    for table, column in _columns("timestamp without time zone"):
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE timestamp with time zone '
                   f"USING \"{column}\" AT TIME ZONE 'UTC'")


def downgrade() -> None:
    """Nothing: the naive columns were a mistake, and a downgrade would bring the offset bug back."""
