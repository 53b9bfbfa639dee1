"""The main window against the real Core and the in-process Codat sandbox (loopback only)."""

from __future__ import annotations

import csv
import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from codatdesk.ui.dialogs.import_report import ImportReportDialog
from codatdesk.ui.dialogs.push_problems import PushProblemsDialog
from codatdesk.ui.expense_model import Column, IdRole
from codatdesk.ui.status_style import style_for
from tests.engine_harness import HEADER, row
from tests.ui.helpers import set_status


def statuses(window) -> dict[int, ExpenseStatus]:
    return {window.model.row_at(i).id: window.model.row_at(i).status for i in range(window.model.rowCount())}


def status_cell(window, expense_id):
    return window.model.index(window.model.position_of(expense_id), Column.STATUS)


def select_ids(window, ids) -> None:
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    selection = QItemSelection()
    for expense_id in ids:
        index = window.proxy.mapFromSource(window.model.index(window.model.position_of(expense_id), 0))
        selection.select(index, index)
    window.table.selectionModel().select(
        selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)


def test_select_push_and_watch_rows_turn_green_or_red(qtbot, harness, window):
    # Codat refuses row 3: 091 stops being a bank account after codatdesk read the ledger (an unknown
    # payment account would be blocked before sending, #12).
    harness.import_rows([row(1), row(2), row(3, bank="091")])
    harness.close_bank_account_after_reading("091")
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    window.table.setFocus()
    window.table.selectAll()
    qtbot.keyClick(window.table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Ctrl+P
    qtbot.waitUntil(lambda: all(s.is_final for s in statuses(window).values()), timeout=15000)
    by_status = {}
    for expense_id, status in statuses(window).items():
        by_status.setdefault(status, []).append(expense_id)
    assert len(by_status[ExpenseStatus.COMPLETE]) == 2 and len(by_status[ExpenseStatus.FAILED]) == 1
    for status, ids in by_status.items():
        cell = status_cell(window, ids[0])
        assert cell.data() == status.value
        assert cell.data(Qt.ItemDataRole.BackgroundRole).color().name().upper() == style_for(status).light.background

    failed = by_status[ExpenseStatus.FAILED][0]
    select_ids(window, [failed])
    # Codat's validation error and the history reach the details pane.
    qtbot.waitUntil(lambda: "is not a bank account" in window.details.plain_text(), timeout=5000)
    text = window.details.plain_text()
    assert "Validation errors" in text and "Push in progress" in text and "Push failed" in text
    assert "directCosts.write" in text  # the webhook that moved it


def test_rows_that_cannot_be_pushed_are_explained_before_sending(qtbot, harness, window):
    harness.import_rows([row(1), row(2)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    done, ready = window.model.ids()
    set_status(harness.core.db, done, ExpenseStatus.COMPLETE)
    window.model.refresh_row(done)
    select_ids(window, [done, ready])
    with qtbot.waitSignal(window.pushStarted, timeout=10000) as started:
        window.pushing.push_selected()
        qtbot.waitUntil(lambda: isinstance(getattr(window, "push_problems_dialog", None), PushProblemsDialog)
                        and window.push_problems_dialog.isVisible(), timeout=5000)
        dialog = window.push_problems_dialog
        assert dialog.table.rowCount() == 1
        assert "already in the ledger" in dialog.table.item(0, 2).text()
        assert harness.sandbox is not None and statuses(window)[ready] is ExpenseStatus.NOT_PUSHED  # nothing sent yet
        dialog.push_button.click()
    assert started.args[0].total == 1
    qtbot.waitUntil(lambda: statuses(window)[ready] is ExpenseStatus.COMPLETE, timeout=15000)


def test_import_of_a_bad_csv_lists_every_bad_line(qtbot, tmp_path, window):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,supplier,account_code,net,tax,total,currency\n"
                   "2024-13-01,Taxi,429,10.00,2.00,12.00,GBP\n"
                   "2024-03-01,Taxi,429,10.00,2.00,12.50,GBP\n"
                   "2024-03-02,=HYPERLINK(1),429,10.00,2.00,12.00,XYZ\n", encoding="utf-8")
    window.import_file(str(bad))
    qtbot.waitUntil(lambda: isinstance(getattr(window, "import_dialog", None), ImportReportDialog)
                    and window.import_dialog.isVisible(), timeout=5000)
    dialog = window.import_dialog
    assert dialog.windowTitle() == "Nothing was imported"
    lines = {dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())}
    assert lines == {"2", "3", "4"}
    problems = " ".join(dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount()))
    assert "bad date" in problems and "do not add up" in problems and "formula" in problems
    assert window.model.rowCount() == 0
    dialog.close()


def test_export_writes_the_filtered_view_and_neutralises_formulas(qtbot, harness, window, tmp_path):
    harness.import_rows([row(1), row(2), row(3)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    first = min(window.model.ids())
    with session_scope(harness.core.db) as session:  # text the importer refuses can still come from elsewhere
        expense = session.get(Expense, first)
        expense.supplier_name, expense.reference = "@SUM(A1)", "-1+2"
    window.model.refresh_row(first)
    window.search_edit.setText("sum(a1)")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=2000)
    path = tmp_path / "out.csv"
    assert window.export_view_to(str(path)) == 1
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["Id", "Date", "Supplier"]
    cells = dict(zip(rows[0], rows[1]))
    assert cells["Supplier"] == "'@SUM(A1)"
    assert cells["Reference"] == "'-1+2"
    assert cells["Total"] == "12.00"  # a plain number stays a number
    assert {"Bank account", "Tax code", "Account code", "Net", "Currency"} <= cells.keys()  # all the importer reads


def test_delete_only_touches_never_pushed_rows(qtbot, harness, window):
    harness.import_rows([row(1), row(2)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    pushed, fresh = window.model.ids()
    set_status(harness.core.db, pushed, ExpenseStatus.FAILED)
    window.model.refresh_row(pushed)
    select_ids(window, [pushed, fresh])
    assert window.delete_action.isEnabled()
    window.editing.delete_selected()
    box = window.delete_box
    assert "1 selected expense(s) were pushed and stay" in box.text()
    delete_button = next(b for b in box.buttons() if b.text().startswith("&Delete"))
    delete_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    assert window.model.ids() == [pushed]


def test_add_expense_validates_and_inserts_a_row(qtbot, window):
    window.editing.add_expense()
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    dialog = window.expense_dialog
    dialog.set_values({"date": "2024-03-05", "supplier": "Trainline", "account_code": "429",
                       "bank_account": "090", "net": "10.00", "tax": "2.00", "currency": "GBP"})
    assert dialog.inputs["total"].text() == "12.00"  # filled from net + tax
    dialog.set_values({"total": "13.00"})
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible()
    assert "not 13.00" in dialog.error_labels["total"].text()
    dialog.set_values({"total": "12.00", "currency": "usd"})
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    added = window.model.row_at(0)
    assert (added.supplier, str(added.total), added.currency, added.date) == ("Trainline", "12.00", "USD",
                                                                             dt.date(2024, 3, 5))
    assert window.selected_ids() == [added.id]


def test_status_filter_and_search(qtbot, harness, window):
    harness.import_rows([row(i) for i in range(5)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=5000)
    failed = window.model.ids()[0]
    set_status(harness.core.db, failed, ExpenseStatus.FAILED, "Account archived")
    window.model.refresh_row(failed)
    window.status_combo.setCurrentIndex(window.status_combo.findData("attention"))
    assert window.proxy.rowCount() == 1 and window.proxy.index(0, 0).data(IdRole) == failed
    window.status_combo.setCurrentIndex(0)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search_edit.hasFocus()
    qtbot.keyClicks(window.search_edit, "archived")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=2000)


def test_a_disconnected_connection_shows_a_banner(qtbot, harness, window):
    # Codat itself says so (webhook and the connection check agree), so no start-up check can race it.
    sb = harness.sandbox
    sb.set_connection_status(sb.company_id, sb.connection_id, "Deauthorized")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "Deauthorized" in window.banner.message.text() and "Xero" in window.banner.message.text()
    sb.set_connection_status(sb.company_id, sb.connection_id, "Linked")
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=10_000)


def test_codat_in_the_status_bar_is_the_shown_companys_own_connection(qtbot, harness, window, tmp_path):
    """A webhook about another company's connection, or about a connection of this company that it does
    not push to, is not "Codat: …" of the company on screen; switching companies shows each one's own."""
    from codatdesk.importer import ensure_company

    sb, codat = harness.sandbox, window.health.items["connection"]
    other, other_connection = sb.add_company("Other Ltd")
    with session_scope(harness.core.db) as session:
        ensure_company(session, other, "Other Ltd").connection_id = other_connection
    csv_file = tmp_path / "other.csv"
    csv_file.write_text(HEADER + row(1) + "\n", encoding="utf-8")
    assert harness.core.import_file(csv_file, other).ok  # a company is listed once it has expenses
    qtbot.waitUntil(lambda: window.company_id == other, timeout=5000)  # the window shows what was imported
    window.company_combo.setCurrentIndex(window.company_combo.findData(sb.company_id))
    qtbot.waitUntil(lambda: codat.text.text() == "Codat: Linked", timeout=10_000)

    def changed(company_id: str, status: str):
        # The window's own queued slot was connected first, so it has run when this wait ends.
        return qtbot.waitSignal(window.bridge.connectionChanged, timeout=10_000,
                                check_params_cb=lambda e: (e.company_id, e.status) == (company_id, status))

    with changed(other, "Unlinked"):
        sb.set_connection_status(other, other_connection, "Unlinked")
    with changed(sb.company_id, "PendingAuth"):
        sb.create_connection(sb.company_id)  # a second link being made: not the one pushes go to
    assert (codat.text.text(), codat.state) == ("Codat: Linked", "ok")

    window.company_combo.setCurrentIndex(window.company_combo.findData(other))
    assert (codat.text.text(), codat.state) == ("Codat: Unlinked", "bad")
    assert window.banner.isVisible()
    window.company_combo.setCurrentIndex(window.company_combo.findData(sb.company_id))
    assert (codat.text.text(), codat.state) == ("Codat: Linked", "ok")
    assert not window.banner.isVisible()


def test_fix_a_failed_expense_and_retry_it(qtbot, harness, window):
    harness.import_rows([row(1, bank="091")])
    harness.close_bank_account_after_reading("091")  # Codat refuses it: no longer a bank account
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    (expense_id,) = window.model.ids()
    window.push_ids([expense_id])
    qtbot.waitUntil(lambda: statuses(window)[expense_id] is ExpenseStatus.FAILED, timeout=15000)
    select_ids(window, [expense_id])
    assert window.edit_action.isEnabled()
    qtbot.keyClick(window.table, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    dialog = window.expense_dialog
    assert dialog.inputs["bank_account"].text() == "091"
    dialog.set_values({"bank_account": "090"})
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: "090" in window.details.plain_text(), timeout=5000)
    assert statuses(window)[expense_id] is ExpenseStatus.FAILED  # editing does not push by itself
    with qtbot.waitSignal(window.pushStarted, timeout=10000):
        window.retry_action.trigger()
    qtbot.waitUntil(lambda: statuses(window)[expense_id] is ExpenseStatus.COMPLETE, timeout=15000)
    assert not window.edit_action.isEnabled()  # a pushed expense is no longer editable


def test_progress_widget_cancel_cancels_the_batch(qtbot, window):
    from codatdesk.events import PushProgress

    class Batch:
        id, total, cancelled = 99, 5, False

        def cancel(self) -> None:
            self.cancelled = True

    batch = Batch()
    window.progress.on_progress(PushProgress(99, 1, 5, "1 sent"))  # progress may arrive before the batch
    widget = window.progress.track(batch)
    assert "Pushing 1 of 5" in widget.label.text()
    widget.cancel_button.click()
    assert batch.cancelled and not widget.cancel_button.isEnabled()
    window.progress.on_progress(PushProgress(99, 5, 5, "1 sent, 4 not sent (cancelled)", finished=True))
    assert widget.label.text().startswith("Push finished") and not window.progress.running()


def test_window_follows_a_palette_switch_to_dark_and_back(qtbot, harness, window, qapp):
    from PySide6.QtGui import QPalette

    from tests.ui.helpers import dark_palette

    harness.import_rows([row(1)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    (expense_id,) = window.model.ids()
    select_ids(window, [expense_id])
    qtbot.waitUntil(lambda: window.details.plain_text() != "", timeout=5000)  # read off the GUI thread
    original = QPalette(qapp.palette())
    try:
        qapp.setPalette(dark_palette())
        qtbot.waitUntil(lambda: window.model.dark, timeout=2000)
        dark = style_for(ExpenseStatus.NOT_PUSHED).dark
        assert status_cell(window, expense_id).data(Qt.ItemDataRole.BackgroundRole).color().name().upper() == \
            dark.background
        assert dark.background.lower() in window.details.browser.toHtml().lower()
    finally:
        qapp.setPalette(original)
    qtbot.waitUntil(lambda: not window.model.dark, timeout=2000)


def test_outcome_unknown_is_not_retried_and_push_again_anyway_asks_first(qtbot, harness, window):
    """Codat timed out: the write may still land. Retry failed and the context menu leave the row alone;
    "Push again anyway" names the duplicate risk and sends only once the user confirms."""
    from PySide6.QtWidgets import QMessageBox

    harness.import_rows([row(1, note=" [sandbox:timeout]"), row(2, bank="091")])
    harness.close_bank_account_after_reading("091")  # Codat refuses row 2: no longer a bank account
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    unknown_id, failed_id = sorted(window.model.ids())
    window.push_ids([unknown_id, failed_id])
    qtbot.waitUntil(lambda: statuses(window) == {unknown_id: ExpenseStatus.OUTCOME_UNKNOWN,
                                                 failed_id: ExpenseStatus.FAILED}, timeout=15000)
    assert window.model.display_text(window.model.row_for_id(unknown_id), Column.STATUS) == "Outcome unknown"
    sandbox = harness.sandbox
    sent = len(sandbox.push_operations)

    with qtbot.waitSignal(window.pushStarted, timeout=10000) as started:
        window.retry_action.trigger()
    assert started.args[0].total == 1 and started.args[0].wait(10)  # the failed row only
    harness.core.wait_idle()
    assert len(sandbox.push_operations) == sent + 1

    select_ids(window, [unknown_id])
    assert window.again_anyway_action.isEnabled() and not window.reset_action.isEnabled()
    window.again_anyway_action.trigger()
    box = window.again_anyway_box
    assert "duplicate" in box.text() and "twice" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # cancelled: nothing leaves
    harness.core.wait_idle()
    assert len(sandbox.push_operations) == sent + 1 and statuses(window)[unknown_id] is ExpenseStatus.OUTCOME_UNKNOWN

    window.again_anyway_action.trigger()
    box = window.again_anyway_box
    confirm = next(b for b in box.buttons() if "risk a duplicate" in b.text())
    with qtbot.waitSignal(window.pushStarted, timeout=10000) as started:
        confirm.click()
    assert started.args[0].wait(10) and started.args[0].sent == 1
    assert len(sandbox.push_operations) == sent + 2
