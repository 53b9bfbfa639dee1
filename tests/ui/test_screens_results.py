"""The expense table, its details and a push's result, as a person sees them (issue #14, screens part 1).

Each test renders the window offscreen in light and dark mode and saves the PNGs to the folder it
prints ($CODATDESK_SHOTS, else the test's tmp folder) for a reviewer to open; the assertions are on
widget state and pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from codatdesk.states import ExpenseStatus
from codatdesk.ui.expense_model import HEADERS, Column
from codatdesk.ui.main_window import TAB_EXPENSES, TAB_MAPPING, MainWindow
from codatdesk.ui.status_style import style_for
from codatdesk.ui.ui_state import UiState
from tests.engine_harness import row
from tests.ui.helpers import dark_palette

S = ExpenseStatus


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("CODATDESK_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture
def palette_restored(qapp):
    original = QPalette(qapp.palette())
    yield original
    qapp.setPalette(original)


def new_window(qtbot, harness, ui_state_dir, width=1440, height=820) -> MainWindow:
    window = MainWindow(harness.core, ui_state=UiState(ui_state_dir / "ui.ini"))
    window._confirmed_close = True
    qtbot.addWidget(window)
    window.show()
    window.resize(width, height)
    return window


def in_both_modes(qtbot, window, shots: Path, name: str, light: QPalette) -> None:
    assert window.grab().save(str(shots / f"{name}-light.png"))
    QApplication.instance().setPalette(dark_palette())
    qtbot.waitUntil(lambda: window.model.dark, timeout=2000)
    assert window.grab().save(str(shots / f"{name}-dark.png"))
    QApplication.instance().setPalette(light)
    qtbot.waitUntil(lambda: not window.model.dark, timeout=2000)


def test_a_failed_push_reads_plainly_and_the_summary_filters_to_it(qtbot, harness, ui_state_dir, shots,
                                                                   palette_restored):
    harness.import_rows([row(1, supplier="Uber"), row(2, supplier="Trainline"), row(3, supplier="Staples", bank="091"),
                         row(4, supplier="Pret A Manger")])
    harness.close_bank_account_after_reading("091")  # Codat refuses row 3: 091 is no longer a bank account
    window = new_window(qtbot, harness, ui_state_dir)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)
    ids = sorted(window.model.ids())
    window.push_ids(ids)

    # A lasting summary of the batch, counted from the rows.
    qtbot.waitUntil(lambda: window.summary.final, timeout=20_000)
    assert window.summary.isVisible()
    assert window.summary.label.text() == "Last push finished: 3 complete, 1 failed."
    failed = next(i for i in ids if window.model.row_for_id(i).status is S.FAILED)

    # The failed row: what happened and what to do first, Codat's own words folded away.
    window.select_expense(failed)
    qtbot.waitUntil(lambda: bool(window.details.reasons) and "Validation errors" in window.details.plain_text(),
                    timeout=5000)
    shown = window.details.shown_text()
    plain = "Account 091 is not a bank account in the ledger. Map \u2018Paid from 091\u2019 to a bank account"
    assert plain in shown
    assert shown.index("Why it failed") < shown.index(plain) < shown.index("Status history")
    assert "Validation errors" not in shown and "Technical details" in shown
    assert "Validation errors" in window.details.plain_text()  # Copy details keeps them for support
    in_both_modes(qtbot, window, shots, "failed-row-details", palette_restored)

    window.details.set_technical_shown(True)
    assert "Validation errors" in window.details.shown_text() and "HTTP status" in window.details.shown_text()
    window.details.set_technical_shown(False)

    # The summary's button shows only what needs attention.
    window.summary.attention_button.click()
    assert [r.id for r in window.shown_rows()] == [failed]
    qtbot.waitUntil(lambda: window.totals.text().startswith("Total of the 1 shown: GBP 12.00"), timeout=2000)
    in_both_modes(qtbot, window, shots, "summary-filtered", palette_restored)

    # The fix link opens the mapping of the paid-from value.
    window.details._on_link(QUrl("fix:0"))
    assert window.tabs.currentIndex() == TAB_MAPPING
    window.tabs.setCurrentIndex(TAB_EXPENSES)

    # Edited after it failed: the pane says the reasons are about the earlier values.
    harness.core.update_expense(failed, {"description": "Printer paper, corrected"})
    window.coalescer.on_expense_changed(type("E", (), {"expense_id": failed})())
    qtbot.waitUntil(lambda: "You changed this expense after it failed" in window.details.shown_text(), timeout=5000)
    image = window.details.browser.viewport().grab().toImage()
    warn = style_for(S.OUTCOME_UNKNOWN).light.background.lower()
    assert any(image.pixelColor(x, y).name() == warn for x in range(0, image.width(), 4)
               for y in range(0, min(image.height(), 200), 2)), "the edited-since-failed note is not highlighted"
    in_both_modes(qtbot, window, shots, "edited-since-failed", palette_restored)


def test_complete_rows_are_not_offered_ctrl_p(qtbot, harness, ui_state_dir, shots, palette_restored):
    from tests.ui.helpers import set_status

    harness.import_rows([row(1), row(2), row(3)])
    window = new_window(qtbot, harness, ui_state_dir)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    ids = sorted(window.model.ids())
    for expense_id in ids[:2]:
        set_status(harness.core.db, expense_id, S.COMPLETE)
    window.model.refresh_rows(ids)
    window.table.selectAll()
    qtbot.waitUntil(lambda: "3 expenses selected" in window.details.shown_text(), timeout=2000)
    assert "1 of them can be pushed" in window.details.shown_text()
    window.table.clearSelection()
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    selection = QItemSelection()
    for expense_id in ids[:2]:
        index = window.proxy.mapFromSource(window.model.index(window.model.position_of(expense_id), 0))
        selection.select(index, index)
    window.table.selectionModel().select(
        selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    assert "Ctrl+P" not in window.details.shown_text() and "none of them can be pushed" in window.details.shown_text()
    qtbot.waitUntil(lambda: "2 selected: GBP 24.00" in window.totals.text(), timeout=2000)
    assert window.totals.text().startswith("Total of the 3 shown: GBP 36.00")


def test_an_empty_table_says_how_to_fill_it_and_columns_fit_the_font(qtbot, harness, ui_state_dir, shots,
                                                                     palette_restored):
    window = new_window(qtbot, harness, ui_state_dir, width=900, height=600)
    qtbot.waitUntil(lambda: window.empty_label.isVisible(), timeout=5000)
    assert "Import a CSV or Excel file" in window.empty_label.text() and "Ctrl+N" in window.empty_label.text()
    in_both_modes(qtbot, window, shots, "empty-table", palette_restored)

    harness.import_rows([row(i, supplier="Amazon Web Services EMEA SARL", account="6100",
                             name="Travel and subsistence (UK)") for i in range(1, 4)])
    window._on_imported(type("E", (), {"company_id": window.model.company_id})())
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    assert not window.empty_label.isVisible()
    header = window.table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in Column:  # every header readable in the current font
        assert header.sectionSize(column) >= metrics.horizontalAdvance(HEADERS[column]), column
    account = window.model.display_text(window.model.row_at(0), Column.ACCOUNT)
    assert header.sectionSize(Column.ACCOUNT) >= window.table.fontMetrics().horizontalAdvance(account)
    window.resize(700, 600)  # narrow: Description keeps its header's width, the table scrolls
    qtbot.waitUntil(lambda: header.sectionSize(Column.DESCRIPTION) >= metrics.horizontalAdvance("Description"),
                    timeout=2000)
    in_both_modes(qtbot, window, shots, "narrow-table", palette_restored)


def test_a_long_status_message_is_shortened_before_the_permanent_widgets(qtbot, harness, ui_state_dir, shots):
    from PySide6.QtWidgets import QWidget

    window = new_window(qtbot, harness, ui_state_dir, width=1000, height=600)
    bar = window.statusBar()
    qtbot.waitUntil(lambda: any(w.isVisible() for w in bar.findChildren(QWidget)), timeout=2000)
    long_text = "Map \u2018Paid from 091\u2019 to a bank account in the Mapping view. " * 3
    bar.showMessage(long_text, 10_000)
    shown = bar.currentMessage()
    assert shown != long_text and shown.endswith("\u2026") and bar.toolTip() == long_text
    direct = bar.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
    first_widget = min(w.geometry().left() for w in direct if w.isVisible() and w.geometry().left() > 0)
    assert bar.fontMetrics().horizontalAdvance(shown) < first_widget
    assert window.grab().save(str(shots / "status-message-light.png"))
    bar.showMessage("Settings saved.", 1000)
    assert bar.currentMessage() == "Settings saved." and bar.toolTip() == ""


def test_after_a_successful_retry_the_old_errors_are_history(qtbot, harness, ui_state_dir, shots, palette_restored):
    harness.import_rows([row(1, supplier="Staples", bank="091")])
    harness.close_bank_account_after_reading("091")
    window = new_window(qtbot, harness, ui_state_dir)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    (expense_id,) = window.model.ids()
    window.push_ids([expense_id])
    qtbot.waitUntil(lambda: window.model.row_for_id(expense_id).status is S.FAILED, timeout=15_000)
    window.select_expense(expense_id)
    qtbot.waitUntil(lambda: "Why it failed" in window.details.shown_text(), timeout=5000)

    data = harness.sandbox.state.company(harness.company_id)  # the bookkeeper fixes the ledger
    with harness.sandbox.state.lock:
        next(a for a in data.accounts.values() if a["nominalCode"] == "091")["isBankAccount"] = True
    window.retry_action.trigger()
    qtbot.waitUntil(lambda: window.model.row_for_id(expense_id).status is S.COMPLETE, timeout=15_000)
    qtbot.waitUntil(lambda: "In the ledger" in window.details.shown_text(), timeout=5000)
    shown = window.details.shown_text()
    assert "Why it failed" not in shown and "not a bank account" not in shown.split("Status history")[0]
    assert "Push failed" in shown.split("Status history")[1]  # the failure is in the history
    assert "is not a bank account" in window.details.plain_text()  # and Codat's words in the technical details
    assert not window.progress.widgets  # one expense's pushes draw no progress bars that crowd the status bar
    in_both_modes(qtbot, window, shots, "complete-after-retry", palette_restored)


def test_the_last_word_on_a_push_waits_for_its_rows_to_be_read(qtbot, harness, ui_state_dir):
    """The rows are read off the GUI thread: when the batch ends before its rows' reads are in, the summary
    must not call the rows it still shows as "Not pushed" the result ("Last push finished: 2 not sent")."""
    import threading

    harness.import_rows([row(1), row(2, supplier="Trainline")])
    window = new_window(qtbot, harness, ui_state_dir)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    gate, real = threading.Event(), harness.core.expense_rows_by_id
    harness.core.expense_rows_by_id = lambda ids: (gate.wait(20), real(ids))[1]
    try:
        window.push_ids(sorted(window.model.ids()))
        qtbot.waitUntil(lambda: window.summary.batch is not None and window.summary.batch.done.is_set(),
                        timeout=20_000)
        qtbot.waitUntil(lambda: window.row_reads.busy, timeout=5000)  # its rows' reads are held
        window._recount_summary()  # as the batch's end does
        assert not window.summary.final
    finally:
        gate.set()
    qtbot.waitUntil(lambda: window.summary.final, timeout=20_000)
    assert window.summary.label.text() == "Last push finished: 2 complete."
