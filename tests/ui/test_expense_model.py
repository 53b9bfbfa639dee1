"""The expenses model without a view: rows by id, one-row updates, native sorting, filters, styles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QBrush

from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from codatdesk.ui.expense_model import (
    Column,
    ExpenseFilterProxy,
    ExpenseTableModel,
    IdRole,
    SortRole,
    StatusRole,
)
from codatdesk.ui.formatting import format_money
from codatdesk.ui.status_style import style_for
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import add_expenses, set_status


@pytest.fixture
def model(qapp, db):
    m = ExpenseTableModel(StoreReads(db))
    m.set_locale(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    return m


def _changed_rows(model):
    rows = []
    model.dataChanged.connect(lambda tl, br, roles=(): rows.extend(range(tl.row(), br.row() + 1)))
    return rows


def test_load_scopes_to_one_company(db, model):
    add_expenses(db, "acme", 3)
    add_expenses(db, "other", 2)
    model.load("acme")
    assert model.rowCount() == 3
    assert model.columnCount() == len(Column)
    assert {model.row_at(i).company_id for i in range(3)} == {"acme"}
    model.load(None)
    assert model.rowCount() == 5


def test_refresh_row_updates_only_that_row(db, model):
    ids = add_expenses(db, "acme", 5)
    model.load("acme")
    changed = _changed_rows(model)
    set_status(db, ids[2], ExpenseStatus.COMPLETE)
    model.refresh_row(ids[2])
    position = model.position_of(ids[2])
    assert changed == [position]
    assert model.index(position, Column.STATUS).data() == "Push complete"
    assert ExpenseStatus(model.index(position, Column.STATUS).data(StatusRole)) is ExpenseStatus.COMPLETE
    # Refreshing rows that did not change emits nothing.
    model.refresh_rows(ids)
    assert changed == [position]


def test_refresh_inserts_new_and_removes_deleted_rows_without_reset(db, model):
    ids = add_expenses(db, "acme", 3)
    model.load("acme")
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    inserted, removed = [], []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.rowsRemoved.connect(lambda parent, first, last: removed.append((first, last)))
    new_ids = add_expenses(db, "acme", 1, start=dt.date(2025, 1, 1))
    with session_scope(db) as session:
        session.delete(session.get(Expense, ids[0]))
    model.refresh_rows([new_ids[0], ids[0]])
    assert inserted == [(2, 2)] and len(removed) == 1
    assert model.rowCount() == 3
    assert model.position_of(new_ids[0]) is not None and model.position_of(ids[0]) is None
    # The id index still points at the right rows after the removal.
    for eid in model.ids():
        assert model.index(model.position_of(eid), 0).data(IdRole) == eid
    model.sync()  # nothing else changed
    assert resets == []


def test_amounts_are_locale_formatted_and_right_aligned(db, model):
    add_expenses(db, "acme", 1)
    model.load("acme")
    index = model.index(0, Column.TOTAL)
    assert index.data() == "12.50"
    assert index.data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    german = QLocale(QLocale.Language.German, QLocale.Country.Germany)
    assert format_money(Decimal("-1234567.5"), "EUR", german) == "-1.234.567,50"
    us = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    assert format_money(Decimal("1234"), "JPY", us) == "1,234"
    assert format_money(Decimal("0.125"), "BHD", QLocale.c()) == "0.125"
    assert format_money(Decimal("-0.5"), "GBP", QLocale.c()) == "-0.50"


def test_sort_role_returns_native_values(db, model):
    add_expenses(db, "acme", 1)
    model.load("acme")
    assert isinstance(model.index(0, Column.TOTAL).data(SortRole), Decimal)
    assert isinstance(model.index(0, Column.DATE).data(SortRole), dt.date)


def test_proxy_sorts_amounts_numerically_not_as_text(db, model):
    ids = add_expenses(db, "acme", 3)  # totals 12.50, 13.50, 14.50
    with session_scope(db) as session:
        for eid, total in zip(ids, ("9.50", "100.00", "10.00"), strict=True):
            e = session.get(Expense, eid)
            e.net, e.tax, e.total = Decimal(total), Decimal(0), Decimal(total)
            session.add(e)
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.TOTAL, Qt.SortOrder.AscendingOrder)
    shown = [proxy.index(r, Column.TOTAL).data() for r in range(proxy.rowCount())]
    assert shown == ["9.50", "10.00", "100.00"]  # as strings this would be 10.00, 100.00, 9.50
    proxy.sort(Column.DATE, Qt.SortOrder.DescendingOrder)
    dates = [proxy.index(r, Column.DATE).data(SortRole) for r in range(proxy.rowCount())]
    assert dates == sorted(dates, reverse=True)


def test_proxy_filters_by_status_and_text(db, model):
    ids = add_expenses(db, "acme", 6)
    set_status(db, ids[1], ExpenseStatus.FAILED, "Account 429 is archived")
    set_status(db, ids[4], ExpenseStatus.COMPLETE)
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_status_filter({ExpenseStatus.FAILED})
    assert proxy.rowCount() == 1
    assert proxy.index(0, 0).data(IdRole) == ids[1]
    proxy.set_status_filter(None)
    proxy.set_search_text("supplier 0004")
    assert [proxy.index(r, 0).data(IdRole) for r in range(proxy.rowCount())] == [ids[4]]
    proxy.set_search_text("archived")  # the failure reason is searchable too
    assert proxy.rowCount() == 1
    proxy.set_search_text("")
    assert proxy.rowCount() == 6
    # A live status change moves a row into the filtered view.
    proxy.set_status_filter({ExpenseStatus.COMPLETE})
    assert proxy.rowCount() == 1
    set_status(db, ids[0], ExpenseStatus.COMPLETE)
    model.refresh_row(ids[0])
    assert proxy.rowCount() == 2


def test_the_shown_rows_are_the_proxys_in_its_order(db, model):
    """The totals line reads the shown rows after every change: the proxy lists them in one pass, and they
    are the rows (and the order) the table shows, whatever the filters and the sort."""
    ids = add_expenses(db, "acme", 8)
    set_status(db, ids[1], ExpenseStatus.FAILED, "Account 429 is archived")
    set_status(db, ids[6], ExpenseStatus.FAILED)
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)

    def shown_by_mapping() -> list[int]:
        return [proxy.mapToSource(proxy.index(i, 0)).row() for i in range(proxy.rowCount())]

    model.sort(Column.TOTAL, Qt.SortOrder.DescendingOrder)
    for apply_filter in (lambda: None, lambda: proxy.set_status_filter({ExpenseStatus.FAILED}),
                         lambda: proxy.set_search_text("supplier 000"), lambda: proxy.set_id_filter(ids[2:5]),
                         lambda: proxy.set_id_filter(None), lambda: proxy.set_search_text("archived")):
        apply_filter()  # each on top of the ones before
        assert list(proxy.shown_source_rows()) == shown_by_mapping()
    assert [model.row_at(r).id for r in proxy.shown_source_rows()] == [ids[1]]


@pytest.mark.parametrize("status", list(ExpenseStatus), ids=lambda s: s.name)
def test_status_cell_has_text_icon_and_colours(db, model, status):
    ids = add_expenses(db, "acme", 1)
    set_status(db, ids[0], status)
    model.load("acme")
    index = model.index(0, Column.STATUS)
    assert index.data() == status.value
    assert not index.data(Qt.ItemDataRole.DecorationRole).isNull()
    tones = style_for(status).tones(False)
    background: QBrush = index.data(Qt.ItemDataRole.BackgroundRole)
    foreground: QBrush = index.data(Qt.ItemDataRole.ForegroundRole)
    assert background.color().name().upper() == tones.background
    assert foreground.color().name().upper() == tones.text
    assert style_for(status).meaning in index.data(Qt.ItemDataRole.ToolTipRole)


def test_palette_change_restyles_the_status_column_only(db, model):
    add_expenses(db, "acme", 4)
    model.load("acme")
    events = []
    model.dataChanged.connect(lambda tl, br, roles=(): events.append((tl.row(), tl.column(), br.row(), br.column(), list(roles))))
    light = model.index(0, Column.STATUS).data(Qt.ItemDataRole.BackgroundRole).color().name().upper()
    model.set_dark(True)
    assert len(events) == 1
    first_row, first_col, last_row, last_col, roles = events[0]
    assert (first_row, first_col, last_row, last_col) == (0, Column.STATUS, 3, Column.STATUS)
    assert Qt.ItemDataRole.BackgroundRole in roles
    dark = model.index(0, Column.STATUS).data(Qt.ItemDataRole.BackgroundRole).color().name().upper()
    assert dark == style_for(ExpenseStatus.NOT_PUSHED).dark.background != light
    model.set_dark(True)  # no change, no signal
    assert len(events) == 1


def test_sorting_keeps_the_selection_and_new_rows_land_in_sorted_order(qtbot, db, model):
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QTableView

    ids = add_expenses(db, "acme", 30)
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    target = ids[7]
    index = proxy.mapFromSource(model.index(model.position_of(target), 0))
    view.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    view.sortByColumn(Column.TOTAL, Qt.SortOrder.DescendingOrder)
    assert [i.data(IdRole) for i in view.selectionModel().selectedRows()] == [target]
    totals = [proxy.index(r, Column.TOTAL).data(SortRole) for r in range(proxy.rowCount())]
    assert totals == sorted(totals, reverse=True)
    view.sortByColumn(Column.DATE, Qt.SortOrder.DescendingOrder)
    newest = add_expenses(db, "acme", 1, start=dt.date(2030, 1, 1))[0]
    oldest = add_expenses(db, "acme", 1, start=dt.date(2000, 1, 1))[0]
    model.refresh_rows([newest, oldest])
    assert proxy.index(0, 0).data(IdRole) == newest
    assert proxy.index(proxy.rowCount() - 1, 0).data(IdRole) == oldest
    assert [i.data(IdRole) for i in view.selectionModel().selectedRows()] == [target]


def test_sorting_ten_thousand_rows_is_fast(db, model):
    import time

    add_expenses(db, "acme", 10_000)
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)
    started = time.perf_counter()
    proxy.sort(Column.TOTAL, Qt.SortOrder.AscendingOrder)
    proxy.sort(Column.SUPPLIER, Qt.SortOrder.DescendingOrder)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.6, f"two sorts of 10,000 rows took {elapsed:.2f} s"  # a Python lessThan takes > 2 s
    suppliers = [proxy.index(r, Column.SUPPLIER).data(SortRole) for r in range(0, 10_000, 97)]
    assert suppliers == sorted(suppliers, reverse=True)


def test_the_totals_add_the_stored_units_exactly_per_currency(db, model):
    """The table's rows are added in their stored integer units; the sums equal Decimal addition."""
    from types import SimpleNamespace

    from codatdesk.ui.totals_line import totals_by_currency

    ids = add_expenses(db, "acme", 4)
    amounts = [("GBP", "0.10"), ("GBP", "0.20"), ("KWD", "1.125"), ("KWD", "2.5")]
    with session_scope(db) as session:
        for expense_id, (currency, total) in zip(ids, amounts, strict=True):
            expense = session.get(Expense, expense_id)
            expense.currency, expense.total, expense.net, expense.tax = (
                currency, Decimal(total), Decimal(total), Decimal(0))
            session.add(expense)
    model.load("acme")
    rows = [model.row_at(r) for r in range(model.rowCount())]
    assert totals_by_currency(rows) == {"GBP": Decimal("0.30"), "KWD": Decimal("3.625")}
    assert totals_by_currency([*rows, SimpleNamespace(currency="GBP", total=Decimal("0.05"))]) == {
        "GBP": Decimal("0.35"), "KWD": Decimal("3.625")}
    assert model.rows() == rows
    gbp = [row for row in rows if row.currency == "GBP"]  # one currency: the sum taken in one C call
    assert totals_by_currency(gbp) == {"GBP": Decimal("0.30")} == totals_by_currency(iter(gbp))
    assert totals_by_currency([]) == {}
