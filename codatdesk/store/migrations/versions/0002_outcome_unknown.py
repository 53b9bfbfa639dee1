"""expense status "Timed out" becomes "Outcome unknown"

Codat's TimedOut does not mean the write failed: a timed-out push may still reach the
ledger (docs ``push.md``; codatio/codat-docs PR #1571). The status is stored as its
display text, so stored rows (the expense and its recorded history) are rewritten. The
column keeps its type: a VARCHAR(20) without a CHECK constraint.

Revision ID: 0002_outcome_unknown
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_outcome_unknown'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD, NEW = "Timed out", "Outcome unknown"


def _rewrite(old: str, new: str) -> None:
    params = {"old": old, "new": new}
    op.execute(sa.text("UPDATE expense SET status = :new WHERE status = :old").bindparams(**params))
    for column in ("from_status", "to_status"):
        op.execute(sa.text(f"UPDATE status_change SET {column} = :new WHERE {column} = :old").bindparams(**params))


def upgrade() -> None:
    _rewrite(OLD, NEW)


def downgrade() -> None:
    _rewrite(NEW, OLD)
