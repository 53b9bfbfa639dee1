"""A prerequisite whose result is applied before its dependents start waiting still releases them."""

from __future__ import annotations

from types import SimpleNamespace

from sqlmodel import Session

from codatdesk.engine.prerequisites import Prerequisite, create_then_wait
from codatdesk.engine.pusher import PushBatch
from codatdesk.states import ExpenseStatus
from codatdesk.store.history import Cause
from codatdesk.store.models import Expense
from tests.unit.support import COMPANY, CONNECTION, Recorder, add_expense, add_operation


def test_the_chain_is_resumed_when_the_account_was_created_before_the_expenses_waited(db):
    dependent = add_expense(db)

    def push(dependents: list[int]) -> str:
        # The account's push, and its Success webhook applied at once: before the expenses below wait on it.
        add_operation(db, "account-key", None, status="Success")
        return "account-key"

    engine = SimpleNamespace(db=db, key_stored=Recorder(), resume_chain=Recorder(),
                             _claim=lambda session, expense_id, **_: session.get(Expense, expense_id))
    prerequisite = Prerequisite(COMPANY, CONNECTION, "chartOfAccounts", "425", "account 425 Postage",
                                push=push, use_existing=lambda record_id, ids: None)
    create_then_wait(engine, PushBatch(1, total=1), prerequisite, [dependent], Cause.engine())

    with Session(db) as session:
        assert ExpenseStatus(session.get(Expense, dependent).status) is ExpenseStatus.WAITING
    assert engine.resume_chain.calls == [("account-key",)], "nobody else would release them"
