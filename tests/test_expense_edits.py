"""The hand-entry rules live in the core: ``Core.add_expense``/``update_expense`` refuse what breaks them,
whoever calls (the window, a script), and store nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from codatdesk.engine import edits
from codatdesk.engine.edits import InvalidExpense, NotEditable
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense

GOOD = {"expense_date": dt.date(2024, 3, 1), "supplier_name": "Uber", "account_code": "429",
        "bank_account_code": "090", "tax_code": "INPUT2", "net": Decimal("10.00"), "tax": Decimal("2.00"),
        "total": Decimal("12.00"), "currency": "GBP"}


def stored(db) -> list[Expense]:
    with Session(db) as session:
        return list(session.exec(select(Expense)).all())


def problems(values) -> dict[str, str]:
    return {p.field: p.text for p in edits.expense_problems(values)}


def test_a_good_expense_breaks_no_rule():
    assert edits.expense_problems(GOOD) == []


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"supplier_name": ""}, "supplier_name", "supplier is required"),
    ({"bank_account_code": None}, "bank_account_code", "paid from (bank account) is required"),
    ({"total": Decimal("12.50")}, "total", "net + tax is 12.00, not 12.50"),
    ({"supplier_name": "=HYPERLINK(1)"}, "supplier_name", "formula"),
    ({"reference": "x" * 101}, "reference", "at most 100 characters"),
    ({"currency": "XYZ"}, "currency", "not an ISO 4217 currency"),
    ({"net": 10.0}, "net", "exact amount"),  # money is Decimal, never float
    ({"net": Decimal("10.001"), "total": Decimal("12.001")}, "net", "more decimals than GBP"),
    ({"currency_rate": Decimal(0)}, "currency_rate", "greater than 0"),
    ({"expense_date": "2024-03-01"}, "expense_date", "use a date"),
])
def test_each_rule_names_the_field_and_says_why(change, field, words):
    found = problems({**GOOD, **change})
    assert words in found[field]


def test_add_expense_refuses_a_broken_expense_and_stores_nothing(db):
    with pytest.raises(InvalidExpense) as refused:
        edits.add_expense(db, None, "c1", {**GOOD, "total": Decimal("99.00")})
    assert "net + tax is 12.00, not 99.00" in str(refused.value)
    assert stored(db) == []
    expense_id = edits.add_expense(db, None, "c1", GOOD)
    assert [e.id for e in stored(db)] == [expense_id]


def test_update_expense_checks_the_edited_expense_as_a_whole(db):
    expense_id = edits.add_expense(db, None, "c1", GOOD)
    with pytest.raises(InvalidExpense):
        edits.update_expense(db, None, expense_id, {"net": Decimal("11.00")})  # total no longer adds up
    assert stored(db)[0].net == Decimal("10.00")
    edits.update_expense(db, None, expense_id, {"net": Decimal("11.00"), "total": Decimal("13.00")})
    assert stored(db)[0].total == Decimal("13.00")


def test_editable_statuses_are_the_cores_answer(db):
    assert {ExpenseStatus.NOT_PUSHED, ExpenseStatus.FAILED} == edits.EDITABLE
    with pytest.raises(NotEditable):
        edits.update_expense(db, None, 12345, {"net": Decimal("1.00")})
