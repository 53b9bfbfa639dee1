"""Issue #16 (x16b) in the window: a split expense is one row saying "3 lines"; the details pane lists
the lines with their tracking, the claim and the company's route; the edit dialog leaves lines alone."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLabel

from codatdesk.ui.expense_model import Column
from tests.ui.shots import save, shots_folder
from tests.ui.test_main_window import select_ids

DATA = Path(__file__).resolve().parents[1] / "data" / "lines" / "split_lines.csv"


def _import(harness, window, qtbot) -> dict[str, int]:
    report = harness.core.import_file(DATA, harness.company_id)
    assert report.ok, report.errors
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    return {window.model.row_at(i).supplier: window.model.row_at(i).id for i in range(3)}


def test_a_split_expense_is_one_row_and_the_details_pane_lists_its_lines(qtbot, harness, window, tmp_path):
    ids = _import(harness, window, qtbot)
    model = window.model
    split = model.position_of(ids["Acme Office Supplies"])
    assert model.index(split, Column.ACCOUNT).data() == "3 lines"
    assert model.index(model.position_of(ids["Printworks Ltd"]), Column.ACCOUNT).data() == "461 · Printing & Stationery"
    select_ids(window, [ids["Acme Office Supplies"]])
    qtbot.waitUntil(lambda: "Lines" in window.details.plain_text(), timeout=5000)
    text = window.details.plain_text()
    for expected in ("3 lines (below)", "DEPARTMENT_2", "Sales; Website relaunch", "ZERORATEDINPUT",
                     "Pushed as", "Direct costs"):
        assert expected in text, expected
    assert "Direct costs" in window.company_combo.currentText()
    save(window, shots_folder(tmp_path), "split-expense-details")
    select_ids(window, [ids["Northern Rail"]])
    qtbot.waitUntil(lambda: "Employee claim" in window.details.plain_text(), timeout=5000)
    assert "yes, for Jo Bloggs" in window.details.plain_text()


def test_the_edit_dialog_locks_a_split_expenses_lines_and_says_where_to_change_them(qtbot, harness, window):
    ids = _import(harness, window, qtbot)
    select_ids(window, [ids["Acme Office Supplies"]])
    qtbot.waitUntil(lambda: window.edit_action.isEnabled(), timeout=5000)
    qtbot.keyClick(window.table, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    dialog = window.expense_dialog
    assert not dialog.inputs["net"].isEnabled() and not dialog.inputs["account_code"].isEnabled()
    note = dialog.findChild(QLabel, "linesNote")
    assert note is not None and "cannot edit lines yet" in note.text() and "line column" in note.text()
    dialog.set_values({"description": "Team day"})
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: "Team day" in window.details.plain_text(), timeout=5000)
    assert "3 lines (below)" in window.details.plain_text()  # the lines are as they were
