"""Issue #16 (x16e): Codat's transaction types beyond Payment/Refund (Reward, Chargeback) named by an expense.

codat-docs docs/expenses/sync-process/expense-transactions.md, "Transaction types"; spec ExpenseTransaction.type.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from codatdesk import routes, transaction_types
from codatdesk.engine.edits import InvalidExpense
from codatdesk.importer import import_file
from codatdesk.lines import Line
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense
from tests.conftest import wait_until
from tests.engine_harness import expenses, statuses

DATA = Path(__file__).parent / "data" / "types"
D = Decimal


def _values(**overrides) -> dict:
    return {"expense_date": dt.date(2026, 11, 3), "supplier_name": "Acme Office Supplies", "description": "Card",
            "account_name": "General Expenses", "bank_account_code": "090", "currency": "GBP",
            "reference": "EXP-1", **overrides}


def test_parse_type_takes_codats_four_types_in_any_case_and_names_them_otherwise():
    assert [transaction_types.parse_type(t) for t in ("reward", "CHARGEBACK", " Refund ", "", None)] == [
        "Reward", "Chargeback", "Refund", None, None]
    with pytest.raises(ValueError, match="write Payment, Refund, Reward or Chargeback"):
        transaction_types.parse_type("Gift")


def test_import_reads_the_type_column(db):
    report = import_file(db, DATA / "types.csv", "c")
    assert report.ok, [str(e) for e in report.errors]
    with Session(db) as session:
        found = [(e.reference, e.transaction_type, e.total) for e in session.exec(select(Expense).order_by(Expense.id))]
    assert found == [("RW-1", "Reward", D("5.00")), ("CB-1", "Chargeback", D("24.00")), ("RF-1", None, D("-12.00"))]
    assert import_file(db, DATA / "types.csv", "c").added == 0  # importing again adds nothing


def test_import_refuses_an_unknown_type_and_a_negative_amount_with_a_type(db):
    report = import_file(db, DATA / "bad_types.csv", "c")
    assert not report.ok and report.added == 0
    words = [str(e) for e in report.errors]
    assert any("bad type" in w and "'Gift' is not a transaction type" in w for w in words), words
    assert any("amounts are positive when a type is given" in w for w in words), words


def test_hand_entry_refuses_a_negative_amount_with_a_type(harness):
    core = harness.start_core(listen=False)
    with pytest.raises(InvalidExpense, match="amounts are positive when a type is given"):
        core.add_expense(harness.company_id, _values(transaction_type="Chargeback", lines=[
            Line("429", D("-10.00"), D("-2.00"), "INPUT2")]))


def test_the_direct_cost_route_refuses_a_reward_with_the_reason_and_the_fix(harness):
    core = harness.start_core(listen=False)
    core.refresh_reference_data(harness.company_id)
    reward = core.add_expense(harness.company_id, _values(transaction_type="Reward", lines=[
        Line("429", D("5.00"), D("0.00"), "ZERORATEDINPUT")]))
    payment = core.add_expense(harness.company_id, _values(reference="EXP-2", transaction_type="Payment", lines=[
        Line("429", D("5.00"), D("1.00"), "INPUT2")]))
    problems = core.check_pushable([reward, payment])
    assert [(p.expense_id, p.kind) for p in problems] == [(reward, "route")], problems
    assert "only the Expenses route sends" in problems[0].reason
    assert "switch the company to the Expenses route" in problems[0].reason


def test_rewards_and_chargebacks_go_to_codat_as_their_types_with_positive_amounts(harness):
    core = harness.start_core()
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    reward = core.add_expense(harness.company_id, _values(transaction_type="Reward", lines=[
        Line("429", D("5.00"), D("0.00"), "ZERORATEDINPUT", "Cashback")]))
    chargeback = core.add_expense(harness.company_id, _values(reference="EXP-2", transaction_type="Chargeback",
                                                              lines=[Line("429", D("20.00"), D("4.00"), "INPUT2")]))
    assert core.check_pushable([reward, chargeback]) == []
    batch = core.push([reward, chargeback])
    assert batch.wait(20) and batch.sent == 2, batch.unsent + batch.problems
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE] * 2, 20, message="both rows complete")
    booked = {b["transactionId"]: b for b in harness.sandbox.expenses.bookings(harness.company_id)}
    ids = [e.transaction_id for e in expenses(core)]
    assert [(booked[i]["type"], booked[i]["netAmount"], booked[i]["taxAmount"]) for i in ids] == [
        ("Reward", 5, 0), ("Chargeback", 20, 4)]


def test_a_reward_on_a_tax_rate_codat_does_not_allow_for_rewards_is_stopped_before_sending(harness):
    core = harness.start_core(listen=False)
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    reward = core.add_expense(harness.company_id, _values(transaction_type="Reward", lines=[
        Line("429", D("5.00"), D("1.00"), "INPUT2")]))
    problems = core.check_pushable([reward])
    assert [p.kind for p in problems] == ["model"], problems
    assert "cannot be used for Reward transactions (Codat's mapping options)" in problems[0].reason
