"""Money found by a review of the Expenses route and split lines: each case would have booked the wrong thing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from codatdesk import routes
from codatdesk.engine.expenses_update import UpdateRefused
from codatdesk.lines import Line
from codatdesk.store.lines import lines_of
from codatdesk.store.models import Expense
from tests.test_expenses_update import _pushed, _values

D = Decimal


def test_a_negative_employee_claim_is_held_back_not_booked_as_money_owed(harness):
    """Reimbursable transactions have no refund type: sent as positive amounts it would be a bill owed to Ann."""
    core = harness.start_core(listen=False)
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    expense_id = core.add_expense(harness.company_id, _values(
        is_claim=True, employee="Acme Office Supplies", lines=[Line("429", D("-40.00"), D("-8.00"), "INPUT2", "Back")]))
    problems = core.check_pushable([expense_id])
    assert any("claim" in p.reason and "cannot be negative" in p.reason for p in problems), problems


def test_an_update_to_a_foreign_currency_without_a_rate_is_not_sent(harness):
    """Without currencyRate the ledger would book the EUR amounts at 1 (codat-docs docs/expenses/fx-management.md)."""
    core, expense_id = _pushed(harness)
    with pytest.raises(UpdateRefused, match="rate"):
        core.update_in_ledger(expense_id, {"currency": "EUR"})
    assert harness.sandbox.expenses.bookings(harness.company_id)[0].get("updates") in (None, 0)


def test_editing_a_split_expenses_account_alone_edits_its_first_line(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values(lines=[
        Line("429", D("50.00"), D("10.00"), "INPUT2", "Lunch"), Line("493", D("30.00"), D("0.00"), "ZERORATEDINPUT")],
        total=D("90.00")))
    core.update_expense(expense_id, {"account_code": "400"})
    from sqlmodel import Session

    with Session(core.db) as session:
        expense = session.get(Expense, expense_id)
        lines = lines_of(session, expense)
    assert (expense.account_code, [line.account_code for line in lines]) == ("400", ["400", "493"])
