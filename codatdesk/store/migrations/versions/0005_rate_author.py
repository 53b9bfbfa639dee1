"""currency rate table: who last set each rate

The rate table the user keeps in the window lists who set a rate and when, so a team can
tell a rate typed by a colleague from its own. Older rows (and ``codatdesk rates set``
before this) have no author: NULL.

Revision ID: 0005_rate_author
Revises: 0004_currency_rate
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_rate_author"
down_revision = "0004_currency_rate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("currency_rate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("currency_rate", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
