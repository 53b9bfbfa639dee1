"""Mapping tab: Codat's lists are read on show when missing or older than the set age, values are not painted red
before then, the summary says how old the lists are, and Map to offers only what fits, with a search, on screen."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import ReferenceRecord
from codatdesk.ui.mapping_view import NEEDS_YOU, UNCHECKED, MappingView, age_text
from codatdesk.ui.status_style import STYLES
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import add_expenses, dark_palette
from tests.ui.shots import save, shots_folder

BANK = {"isBankAccount": True, "status": "Active", "currency": "GBP"}
ACCOUNTS = [  # (data type, id, code, name, extra)
    ("accounts", "a-429", "429", "General Expenses", {"status": "Active"}),
    ("accounts", "a-430", "430", "Old Travel", {"status": "Archived"}),
    ("accounts", "a-090", "090", "Business Bank Account", {**BANK}),
    ("bankAccounts", "a-090", "090", "Business Bank Account", {**BANK}),  # the same record from another list
    ("accounts", "a-200", "200", "Sales", {"status": "Active"}),
    ("accounts", "a-431", "431", "Travel and subsistence " + "with a very long name " * 8, {"status": "Active"}),
    ("taxRates", "t-input2", "INPUT2", "20% (VAT on Expenses)", {"status": "Active", "effectiveTaxRate": 20}),
]


def store_lists(db, age: dt.timedelta, records=ACCOUNTS) -> None:
    when = dt.datetime.now(dt.UTC) - age
    with session_scope(db) as session:
        for data_type, codat_id, code, name, extra in records:
            session.add(ReferenceRecord(company_id="c1", data_type=data_type, codat_id=codat_id, code=code,
                                        name=name, extra_json=json.dumps(extra), fetched_at=when))


class Refresher:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, company_id: str) -> None:
        self.calls.append(company_id)  # the window reads in a worker; the test answers by hand


@pytest.fixture
def view_of(qtbot, db):
    def make(age: dt.timedelta | None) -> tuple[MappingView, Refresher]:
        add_expenses(db, "c1", 2)  # account 429, paid from 090, supplier "Supplier 000n", tax INPUT2
        if age is not None:
            store_lists(db, age)
        refresher = Refresher()
        view = MappingView(StoreReads(db), refresh=refresher, max_age=lambda: dt.timedelta(hours=24))
        qtbot.addWidget(view)
        view.resize(1000, 420)
        view.set_company("c1")
        view.show()
        qtbot.waitUntil(lambda: bool(view.model.rows), timeout=5000)
        return view, refresher
    return make


def test_fresh_lists_are_not_read_again_and_say_their_age(view_of):
    view, refresher = view_of(dt.timedelta(hours=3, minutes=5))
    assert refresher.calls == []
    assert "read 3 hours ago" in view.summary.text()
    assert any(r.outcome == NEEDS_YOU for r in view.model.rows)  # the suppliers are not in the lists


@pytest.mark.parametrize("age", [None, dt.timedelta(hours=30)], ids=["missing", "stale"])
def test_missing_or_stale_lists_are_read_on_show_and_nothing_is_red_before(view_of, age, tmp_path):
    view, refresher = view_of(age)
    assert refresher.calls == ["c1"]
    assert view.progress.isVisible()
    assert not any(r.outcome == NEEDS_YOU for r in view.model.rows)
    assert any(r.outcome == UNCHECKED for r in view.model.rows)
    red = STYLES[ExpenseStatus.FAILED].light.background.upper()
    for row in range(view.proxy.rowCount()):
        brush = view.proxy.index(row, 4).data(Qt.ItemDataRole.BackgroundRole)
        assert brush.color().name().upper() != red
    save(view, shots_folder(tmp_path), f"mapping-reading-{'missing' if age is None else 'stale'}")
    view.request_refresh()  # already reading: no second read
    assert refresher.calls == ["c1"]
    if age is None:
        store_lists(view._core.db, dt.timedelta(0))
    view.refresh_finished({"accounts": 4})
    assert any(r.outcome == NEEDS_YOU for r in view.model.rows)
    view.hide()
    view.show()
    assert refresher.calls == ["c1"]  # a stale list that could not be replaced is not read on every show


def test_age_text():
    now = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    assert age_text(now - dt.timedelta(seconds=20), now) == "just now"
    assert age_text(now - dt.timedelta(minutes=1), now) == "1 minute ago"
    assert age_text(now - dt.timedelta(hours=3, minutes=59), now) == "3 hours ago"
    assert age_text(now - dt.timedelta(days=2), now) == "2 days ago"


def select(view: MappingView, kind: str, value: str) -> None:
    position = next(i for i, r in enumerate(view.model.rows) if (r.kind, r.local_value) == (kind, value))
    view.table.selectRow(view.proxy.mapFromSource(view.model.index(position, 0)).row())


def offered(view: MappingView) -> list[str]:
    return [view.choice.itemData(i) for i in range(1, view.choice.count())]


def test_map_to_offers_only_what_fits_once_with_a_search_and_stays_on_screen(qtbot, qapp, view_of, tmp_path):
    folder = shots_folder(tmp_path)
    view, _ = view_of(dt.timedelta(hours=1))
    select(view, "bankAccount", "090")
    assert offered(view) == ["a-090"]  # a bank account, listed once although two lists hold it
    select(view, "account", "429")
    assert "a-430" not in offered(view)  # archived
    assert len(offered(view)) == len(set(offered(view)))
    view.choice.lineEdit().setText("")
    qtbot.keyClicks(view.choice.lineEdit(), "sales")
    completer = view.choice.completer()
    assert completer.completionCount() == 1 and "Sales" in completer.currentCompletion()
    view.choice.setCurrentIndex(view.choice.findData("a-200"))
    assert view.choice.currentData() == "a-200"

    screen = QApplication.primaryScreen().availableGeometry()
    view.resize(min(900, screen.width() - 20), 420)
    view.move(screen.right() - view.frameGeometry().width(), screen.bottom() - view.frameGeometry().height())
    view.choice.lineEdit().setText("")  # all records: the longest list
    view.choice.showPopup()
    popup = view.choice.view().window()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    assert screen.contains(popup.frameGeometry()), (popup.frameGeometry(), screen)
    view.choice.hidePopup()
    save(view, folder, "mapping-light")
    original = QApplication.palette()
    qapp.setPalette(dark_palette())
    try:
        view.restyle()
        save(view, folder, "mapping-dark")
    finally:
        qapp.setPalette(original)
