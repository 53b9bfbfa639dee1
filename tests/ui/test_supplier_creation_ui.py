"""Supplier creation has no dead end in the window: the Mapping view holds the company's choice
("Create suppliers the ledger does not have yet", stored off the GUI thread), and explain-before-send
offers an unknown supplier both "Map…" and "Allow creating suppliers", which allows it and checks again."""

from __future__ import annotations

import threading

from sqlmodel import Session

from codatdesk.engine import fixes
from codatdesk.engine.suppliers import set_supplier_creation
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Company
from codatdesk.ui.dialogs.push_problems import FIX_COLUMN, PushProblemsDialog
from codatdesk.ui.main_window import TAB_MAPPING
from codatdesk.ui.mapping_view import CREATE_SUPPLIERS_TEXT, CREATED, NEEDS_YOU
from tests.engine_harness import row

UNKNOWN = ("supplier Acme is not in the ledger's suppliers: map it in Mappings, or allow codatdesk to create "
           "suppliers for this company (codatdesk suppliers --create on)")


def allowed(harness) -> bool:
    with Session(harness.core.db) as session:
        return bool(session.get(Company, harness.sandbox.company_id).create_suppliers)


def supplier_row(mapping, name: str):
    return next(r for r in mapping.model.rows if (r.kind, r.local_value) == ("supplier", name))


def test_the_dialog_offers_map_and_allow_creating_suppliers_for_an_unknown_supplier(qtbot):
    dialog = PushProblemsDialog([(1, "taxi", UNKNOWN), (2, "lunch", "the supplier is missing")], 0)
    qtbot.addWidget(dialog)
    dialog.show()
    assert [b.text() for b in dialog.row_buttons[0]] == ["Map…", "Allow creating suppliers"]
    assert [b.text() for b in dialog.row_buttons[1]] == ["Edit…"]
    assert "allow codatdesk to create suppliers" in dialog.table.item(0, FIX_COLUMN).text()
    with qtbot.waitSignal(dialog.fixRequested, timeout=2000) as chosen:
        dialog.row_buttons[0][1].click()
    assert chosen.args[0] == 1 and chosen.args[1].kind == fixes.ALLOW_SUPPLIERS


def test_the_mapping_view_stores_the_choice_off_the_gui_thread(qtbot, harness, window, monkeypatch):
    harness.import_rows([row(1, supplier="Brand New Ltd")], map_suppliers=False)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.tabs.setCurrentIndex(TAB_MAPPING)
    mapping = window.mapping
    qtbot.waitUntil(lambda: bool(mapping.model.rows) and not mapping.reading, timeout=10000)  # read on first show
    box = mapping.create_suppliers
    assert box.text() == CREATE_SUPPLIERS_TEXT and box.isEnabled() and not box.isChecked()
    assert "first, then sends the expense. Off: such an expense is not sent" in mapping.create_suppliers_hint.text()
    assert supplier_row(mapping, "Brand New Ltd").outcome == NEEDS_YOU

    threads = []
    writer = harness.core.set_supplier_creation

    def recording(company_id, value):
        threads.append(threading.current_thread())
        writer(company_id, value)

    monkeypatch.setattr(harness.core, "set_supplier_creation", recording)
    box.click()
    qtbot.waitUntil(lambda: allowed(harness) and box.isEnabled(), timeout=5000)
    assert threads and threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: supplier_row(mapping, "Brand New Ltd").outcome == CREATED, timeout=5000)
    assert supplier_row(mapping, "Brand New Ltd").how == "will be created on push"
    window.grab().save("/tmp/shots/mapping_create_suppliers.png")

    box.click()
    qtbot.waitUntil(lambda: not allowed(harness) and box.isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: supplier_row(mapping, "Brand New Ltd").outcome == NEEDS_YOU, timeout=5000)


def test_the_checkbox_shows_the_stored_choice(qtbot, harness, window):
    harness.import_rows([row(1)])
    set_supplier_creation(harness.core.db, harness.sandbox.company_id, True)
    window.tabs.setCurrentIndex(TAB_MAPPING)
    qtbot.waitUntil(lambda: window.mapping.create_suppliers.isChecked(), timeout=5000)
    assert allowed(harness)  # showing it wrote nothing back


def test_allow_creating_suppliers_sets_it_checks_again_and_the_expense_goes_out(qtbot, harness, window):
    harness.import_rows([row(1, supplier="Brand New Ltd"), row(2)], map_suppliers=False)
    company = harness.sandbox.company_id
    harness.core.set_mapping(company, "supplier", "Supplier 2", harness.sandbox.suppliers(company)[0]["id"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    by_supplier = {window.model.row_for_id(i).supplier: i for i in window.model.ids()}
    ids = [by_supplier["Brand New Ltd"], by_supplier["Supplier 2"]]
    window.push_ids(ids)
    qtbot.waitUntil(lambda: getattr(window, "push_problems_dialog", None) is not None
                    and window.push_problems_dialog.isVisible(), timeout=15000)
    dialog = window.push_problems_dialog
    assert dialog.table.rowCount() == 1 and dialog.fixes[0].kind == fixes.CREATE
    dialog.resize(1100, 300)
    qtbot.waitUntil(lambda: dialog.table.rowHeight(0) < 120, timeout=2000)
    dialog.grab().save("/tmp/shots/push_problems_allow_suppliers.png")
    window.pushing.problems_dialog = None
    dialog.row_buttons[0][1].click()  # "Allow creating suppliers": nothing pushed by this dialog

    qtbot.waitUntil(lambda: allowed(harness), timeout=5000)
    # Checked again with nothing left to explain: both go out, the supplier first.
    qtbot.waitUntil(lambda: all(window.model.row_for_id(i).status is ExpenseStatus.COMPLETE for i in ids),
                    timeout=30000)
    assert window.push_problems_dialog is None
    assert any(s.get("supplierName") == "Brand New Ltd" for s in harness.sandbox.suppliers(company))
