"""The single place where an expense's status changes, and is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from codatdesk.events import ExpenseChanged
from codatdesk.states import ExpenseStatus, Trigger, next_status
from codatdesk.store.actor import actor_of
from codatdesk.store.db import expense_change_registered, register
from codatdesk.store.models import Expense, StatusChange, utcnow


@dataclass(frozen=True)
class Cause:
    """Who or what made a change: ``kind`` is webhook|reconciliation|user|engine."""

    kind: str
    ref: str = ""

    @classmethod
    def webhook(cls, delivery_id: str) -> Cause:
        return cls("webhook", delivery_id)

    @classmethod
    def reconciliation(cls, push_key: str = "") -> Cause:
        return cls("reconciliation", push_key)

    @classmethod
    def user(cls, name: str = "user") -> Cause:
        return cls("user", name)

    @classmethod
    def engine(cls, ref: str = "") -> Cause:
        return cls("engine", ref)

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}" if self.ref else self.kind


def change_status(
    session: Session,
    expense: Expense,
    trigger: Trigger,
    cause: Cause,
    *,
    detail: str | None = None,
    push_operation_key: str | None = None,
    waiting_on_key: str | None = None,
) -> ExpenseStatus:
    """Apply ``trigger`` through the state machine and write one history row.

    Raises ``InvalidTransition`` (and changes nothing) when the table forbids it.
    The caller owns the transaction.
    """
    before = ExpenseStatus(expense.status)
    after = next_status(before, trigger)
    expense.status = after
    if push_operation_key is not None:
        expense.push_operation_key = push_operation_key
    if trigger in (Trigger.WAIT_FOR_PREREQUISITE, Trigger.WAIT_FOR_PREREQUISITE_ANYWAY):
        expense.waiting_on_key = waiting_on_key
    elif trigger in (Trigger.PUSH_SENT, Trigger.PUSH_SENT_ANYWAY, Trigger.RESET, Trigger.PUSH_REJECTED):
        # After PREREQUISITE_FAILED the key stays: it names the push that failed this expense.
        expense.waiting_on_key = None
    if detail is not None:
        expense.status_detail = detail
    elif trigger in (Trigger.PUSH_SENT, Trigger.PUSH_SENT_ANYWAY, Trigger.WAIT_FOR_PREREQUISITE,
                     Trigger.WAIT_FOR_PREREQUISITE_ANYWAY, Trigger.RESET, Trigger.RESULT_SUCCESS):
        expense.status_detail = ""
    expense.updated_at = utcnow()
    session.add(expense)
    session.add(
        StatusChange(
            expense_id=expense.id,
            from_status=before.value,
            to_status=after.value,
            trigger=trigger.value,
            cause_kind=cause.kind,
            cause_ref=cause.ref,
            detail=detail or "",
            actor=actor_for(session, cause),
        )
    )
    register(session, ExpenseChanged(expense.id, expense.company_id, before, after, str(cause)))
    return after


def actor_for(session: Session, cause: Cause) -> str:
    """The person a change is recorded for: a named user cause (a desktop's request, carried to the
    server), else whoever this process writes as (store/actor.py)."""
    if cause.kind == "user" and cause.ref and cause.ref != "user":
        return cause.ref[:100]
    return actor_of(session.get_bind())


def expense_touched(session: Session, expense: Expense, cause: Cause) -> None:
    """Its fields or explanation changed, not its status: views re-read it after the commit. Nothing
    is registered twice for one expense in one transaction (a status change already says so)."""
    if expense_change_registered(session, expense.id):
        return
    status = ExpenseStatus(expense.status)
    register(session, ExpenseChanged(expense.id, expense.company_id, status, status, str(cause)))


def expense_added(session: Session, expense: Expense, cause: Cause) -> None:
    """Call after a flush (the id is known)."""
    register(session, ExpenseChanged(expense.id, expense.company_id, None, ExpenseStatus(expense.status), str(cause)))


def expense_deleted(session: Session, expense: Expense, cause: Cause) -> None:
    register(session, ExpenseChanged(expense.id, expense.company_id, ExpenseStatus(expense.status), None, str(cause)))
