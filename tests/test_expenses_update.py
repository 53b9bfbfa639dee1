"""Issue #16 (x16e): an edit of an expense already in the ledger goes to Codat as an update (Expenses route).

Spec update-expense-transaction: PUT .../sync/expenses/expense-transactions/{transactionId}, Payments only
(422 otherwise); the update starts a sync whose result ends the row like a push's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from codatdesk import routes
from codatdesk.engine.expenses_update import UpdateRefused
from codatdesk.lines import Line
from codatdesk.states import ExpenseStatus, Trigger, can_apply, next_status
from codatdesk.store.models import ExpenseSyncItem, StatusChange
from tests.conftest import wait_until
from tests.engine_harness import expenses, statuses

D = Decimal


def _values(**overrides) -> dict:
    return {"expense_date": dt.date(2026, 11, 3), "supplier_name": "Acme Office Supplies", "description": "Lunch",
            "account_name": "General Expenses", "bank_account_code": "090", "currency": "GBP",
            "reference": "EXP-1", "lines": [Line("429", D("50.00"), D("10.00"), "INPUT2", "Lunch")], **overrides}


def _pushed(harness, **overrides) -> tuple[object, int]:
    core = harness.start_core()
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    expense_id = core.add_expense(harness.company_id, _values(**overrides))
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1, batch.unsent + batch.problems
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="the row completes")
    return core, expense_id


def _booking(harness) -> dict:
    (booking,) = harness.sandbox.expenses.bookings(harness.company_id)
    return booking


def test_only_a_complete_row_can_be_sent_as_an_update():
    assert next_status(ExpenseStatus.COMPLETE, Trigger.UPDATE_SENT) is ExpenseStatus.IN_PROGRESS
    assert [s for s in ExpenseStatus if can_apply(s, Trigger.UPDATE_SENT)] == [ExpenseStatus.COMPLETE]


def test_an_edit_of_a_payment_in_the_ledger_is_sent_as_an_update_and_tracked_like_a_push(harness):
    core, expense_id = _pushed(harness)
    assert core.can_update_in_ledger(expense_id)
    (transaction_id,) = [e.transaction_id for e in expenses(core)]
    sync_id = core.update_in_ledger(expense_id, {"description": "Team lunch", "lines": [
        Line("429", D("60.00"), D("12.00"), "INPUT2", "Team lunch")], "total": D("72.00")})
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE] and _booking(harness).get("updates") == 1, 20,
               message="the update completes")
    booking = _booking(harness)
    assert (booking["transactionId"], booking["totalAmount"]) == (transaction_id, D("72.00"))
    assert [(line["netAmount"], line["taxAmount"]) for line in booking["lines"]] == [(60, 12)]
    (expense,) = expenses(core)
    assert (expense.total, expense.description, expense.push_operation_key) == (D("72.00"), "Team lunch", sync_id)
    with Session(core.db) as session:
        triggers = [c.trigger for c in session.exec(select(StatusChange).order_by(StatusChange.id))]
        items = session.exec(select(ExpenseSyncItem).order_by(ExpenseSyncItem.id)).all()
    assert triggers[-2:] == [Trigger.UPDATE_SENT, Trigger.RESULT_SUCCESS]
    assert [(i.transaction_id, i.status) for i in items] == [(transaction_id, "Completed")] * 2


def test_codats_422_for_a_refund_update_says_so_on_the_row_and_saves_nothing(harness):
    core, expense_id = _pushed(harness, lines=[Line("429", D("-10.00"), D("-2.00"), "INPUT2", "Returned chair")])
    before = expenses(core)[0].description
    with pytest.raises(UpdateRefused) as refused:
        core.update_in_ledger(expense_id, {"description": "Returned desk"})
    assert str(refused.value) == "Xero does not take updates of refunds through Codat: change it in the ledger"
    (expense,) = expenses(core)
    assert (expense.status, expense.description, expense.status_detail) == (
        ExpenseStatus.COMPLETE, before, str(refused.value))
    assert _booking(harness).get("updates") is None


def test_a_row_not_yet_in_the_ledger_or_on_the_direct_cost_route_is_not_updated(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values())
    assert not core.can_update_in_ledger(expense_id)
    with pytest.raises(UpdateRefused, match="not in the ledger yet"):
        core.update_in_ledger(expense_id, {"description": "x"})
