"""ExpenseRow keeps the database's raw values and decodes them exactly as the ORM does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from codatdesk.states import ExpenseStatus
from codatdesk.store.db import read_session, session_scope
from codatdesk.store.models import Expense
from codatdesk.ui.expense_model import Column, ExpenseTableModel
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import add_expenses, set_status


def test_rows_decode_like_the_orm(qapp, db):
    ids = add_expenses(db, "acme", 3)
    with session_scope(db) as session:
        odd = session.get(Expense, ids[1])
        odd.net, odd.tax, odd.total, odd.currency = Decimal("0.125"), Decimal("0"), Decimal("0.125"), "KWD"
        session.add(odd)
    set_status(db, ids[2], ExpenseStatus.FAILED, "no such account")
    model = ExpenseTableModel(StoreReads(db))
    model.load("acme")
    with read_session(db) as session:
        for expense_id in ids:
            expense = session.get(Expense, expense_id)
            row = model.row_for_id(expense_id)
            assert (row.date, row.net, row.tax, row.total, row.status, row.updated_at) == (
                expense.expense_date, expense.net, expense.tax, expense.total, expense.status, expense.updated_at)
            assert (str(row.net), str(row.total)) == (str(expense.net), str(expense.total))  # same exponent too
            assert isinstance(row.date, dt.date) and isinstance(row.status, ExpenseStatus)
    assert model.row_for_id(ids[2]).status_detail == "no such account"


def test_sorting_on_raw_values_orders_like_the_decoded_ones(qapp, db):
    ids = add_expenses(db, "acme", 30)
    model = ExpenseTableModel(StoreReads(db))
    model.load("acme")
    for column in (Column.DATE, Column.TOTAL, Column.SUPPLIER):
        model.sort(column)
        keys = [(model.sort_key(model.row_at(i), column), model.row_at(i).id) for i in range(len(ids))]
        assert keys == sorted(keys)
