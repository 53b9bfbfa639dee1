"""Explain-before-send shows each blocked expense's fix and opens the place to make it; the
Mapping view's Re-read from Codat shows its progress, what it read, and why not in plain words."""

from __future__ import annotations

import re

import httpx
from PySide6.QtWidgets import QApplication

from codatdesk.engine import fixes
from codatdesk.ui.dialogs.push_problems import FIX_COLUMN, PushProblemsDialog
from codatdesk.ui.main_window import TAB_MAPPING
from tests.engine_harness import row


def test_each_problem_shows_its_fix_and_a_button_that_asks_for_it(qtbot):
    problems = [(1, "taxi", "supplier Acme is not in the ledger's suppliers: map it in Mappings, or edit the expense"),
                (2, "lunch", "net 10.00 + tax 2.00 does not equal total 13.00"),
                (3, "train", "already in the ledger (Push complete)")]
    dialog = PushProblemsDialog(problems, 4)
    qtbot.addWidget(dialog)
    dialog.show()
    assert [f.kind for f in dialog.fixes] == [fixes.CREATE, fixes.EDIT, fixes.NONE]
    assert dialog.fix_buttons[2] is None  # nothing to fix: no button, the sentence says why
    assert "Map it to an existing supplier" in dialog.table.item(0, FIX_COLUMN).text()
    assert dialog.fix_buttons[0].text() == "Map…" and dialog.fix_buttons[1].text() == "Edit…"
    assert not dialog.fix_buttons[1].autoDefault() and dialog.push_button.isDefault()
    with qtbot.waitSignal(dialog.fixRequested, timeout=2000) as chosen:
        dialog.fix_buttons[1].click()
    assert chosen.args[0] == 2 and chosen.args[1].kind == fixes.EDIT
    assert not dialog.isVisible() and dialog.result() == PushProblemsDialog.DialogCode.Rejected


def open_problems(qtbot, harness, window):
    harness.import_rows([row(1).replace(",GBP,", ",EUR,"), row(2, tax_code="ZZZ"), row(3), row(4)],
                        map_suppliers=False)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)
    company = harness.sandbox.company_id
    suppliers = harness.sandbox.suppliers(company)
    for name in ("Supplier 1", "Supplier 2", "Supplier 4"):  # Supplier 3 stays unknown to the ledger
        harness.core.set_mapping(company, "supplier", name, suppliers[0]["id"])
    by_supplier = {window.model.row_for_id(i).supplier: i for i in window.model.ids()}
    ids = [by_supplier[f"Supplier {n}"] for n in (1, 2, 3, 4)]
    window.push_ids(ids)
    qtbot.waitUntil(lambda: getattr(window, "push_problems_dialog", None) is not None
                    and window.push_problems_dialog.isVisible(), timeout=15000)
    return window.push_problems_dialog, ids


def test_the_fixes_open_the_rate_table_the_mapping_and_the_expense(qtbot, harness, window):
    dialog, ids = open_problems(qtbot, harness, window)
    kinds = {dialog.table.item(r, 0).text(): dialog.fixes[r] for r in range(dialog.table.rowCount())}
    assert kinds[str(ids[0])].kind == fixes.RATE and kinds[str(ids[0])].currency == "EUR"
    assert kinds[str(ids[1])].kind == fixes.MAP and kinds[str(ids[1])].mapping_kind == "taxRate"
    assert kinds[str(ids[2])].kind == fixes.CREATE and kinds[str(ids[2])].mapping_kind == "supplier"
    assert dialog.push_button.text() == "&Push the other 1"
    dialog.resize(1100, 480)
    qtbot.waitUntil(lambda: dialog.table.rowHeight(0) < 120, timeout=2000)  # wrapped at the width shown
    dialog.grab().save("/tmp/shots/push_problems.png")

    rate_row = next(r for r in range(dialog.table.rowCount()) if dialog.fixes[r].kind == fixes.RATE)
    dialog.fix_buttons[rate_row].click()
    qtbot.waitUntil(lambda: getattr(window, "rates_dialog", None) is not None
                    and window.rates_dialog.view.currency_edit.text() == "EUR", timeout=5000)
    view = window.rates_dialog.view
    assert view.date_edit.date().toPython() == window.model.row_for_id(ids[0]).date
    assert view.rate_edit.hasFocus() or not QApplication.focusWidget()  # offscreen may not focus
    window.rates_dialog.close()

    # The unknown supplier: the Mapping view opens on it.
    dialog, _ids = reopen(qtbot, window, ids)
    supplier_row = next(r for r in range(dialog.table.rowCount()) if dialog.fixes[r].kind == fixes.CREATE)
    dialog.fix_buttons[supplier_row].click()
    qtbot.waitUntil(lambda: window.tabs.currentIndex() == TAB_MAPPING and window.mapping.selected_row() is not None,
                    timeout=5000)
    selected = window.mapping.selected_row()
    assert (selected.kind, selected.local_value) == ("supplier", "Supplier 3")

    # The tax code: the Mapping view opens on it.
    dialog, _ids = reopen(qtbot, window, ids)
    tax_row = next(r for r in range(dialog.table.rowCount()) if dialog.fixes[r].mapping_kind == "taxRate")
    dialog.fix_buttons[tax_row].click()
    qtbot.waitUntil(lambda: window.mapping.selected_row() is not None
                    and window.mapping.selected_row().local_value == "ZZZ", timeout=5000)


def reopen(qtbot, window, ids):
    window.pushing.problems_dialog = None
    window.push_ids(ids)
    qtbot.waitUntil(lambda: window.push_problems_dialog is not None and window.push_problems_dialog.isVisible(),
                    timeout=15000)
    return window.push_problems_dialog, ids


def test_an_edit_fix_opens_the_expense_dialog(qtbot, harness, window):
    harness.import_rows([row(1)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    (expense_id,) = window.model.ids()
    window.apply_fix(expense_id, fixes.fix_for("the supplier is missing"))
    qtbot.waitUntil(lambda: getattr(window, "expense_dialog", None) is not None
                    and window.expense_dialog.isVisible(), timeout=5000)
    assert window.selected_ids() == [expense_id]
    window.expense_dialog.reject()


def test_reread_from_codat_shows_progress_counts_and_plain_errors(qtbot, harness, window, monkeypatch):
    harness.import_rows([row(1)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.tabs.setCurrentIndex(TAB_MAPPING)
    mapping = window.mapping
    qtbot.waitUntil(lambda: not mapping.reading, timeout=15000)  # the lists were never read: read on first show
    assert mapping.refresh_button.text() == "Re-&read from Codat"
    mapping.request_refresh()
    assert mapping.progress.isVisible() and not mapping.refresh_button.isEnabled()
    qtbot.waitUntil(lambda: mapping.refresh_button.isEnabled(), timeout=15000)
    assert not mapping.progress.isVisible()
    accounts = len(harness.sandbox.accounts(harness.sandbox.company_id)) if hasattr(harness.sandbox, "accounts") \
        else None
    text = mapping.refresh_result.text()
    assert re.fullmatch(r"\d+ accounts, \d+ suppliers, \d+ tax rates, \d+ tracking categories, \d+ bank accounts read from Codat\.", text), text
    if accounts is not None:
        assert text.startswith(f"{accounts} accounts")
    mapping.grab().save("/tmp/shots/mapping_reread.png")

    def offline(_company_id=None):
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(harness.core, "refresh_reference_data", offline)
    mapping.request_refresh()
    qtbot.waitUntil(lambda: mapping.refresh_button.isEnabled(), timeout=5000)
    text = mapping.refresh_result.text()
    assert text.startswith("Could not read from Codat: Cannot reach Codat.") and "read before are kept" in text
    assert "Traceback" not in text
    mapping.grab().save("/tmp/shots/mapping_reread_failed.png")


def test_a_rate_fix_for_a_company_without_a_base_currency_rereads(qtbot, harness, window, monkeypatch):
    calls = []
    monkeypatch.setattr(window.mapping, "request_refresh", lambda: calls.append(window.mapping.company_id))
    harness.import_rows([row(1)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.apply_fix(window.model.ids()[0], fixes.fix_for(
        "USD expense needs a rate (or the company's base currency): Codat did not say the company's base currency"))
    assert window.tabs.currentIndex() == TAB_MAPPING and calls == [harness.sandbox.company_id]
