"""Who did what, as the table asks it: the expenses a person pushed (asked to push, or sent)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from codatdesk.states import Trigger
from codatdesk.store.db import read_session
from codatdesk.store.models import StatusChange

# The history rows that mean "this person pushed it": a desktop's request, or a send in their name.
PUSH_TRIGGERS = (Trigger.PUSH_REQUESTED, Trigger.PUSH_SENT, Trigger.PUSH_SENT_ANYWAY, Trigger.WAIT_FOR_PREREQUISITE,
                 Trigger.WAIT_FOR_PREREQUISITE_ANYWAY)


def pushed_by(db: Engine, actor: str) -> set[int]:
    """Ids of the expenses ``actor`` pushed at least once ("pushed by me")."""
    with read_session(db) as session:
        return set(session.exec(select(StatusChange.expense_id).distinct().where(
            StatusChange.actor == actor, col(StatusChange.trigger).in_([t.value for t in PUSH_TRIGGERS]))).all())
