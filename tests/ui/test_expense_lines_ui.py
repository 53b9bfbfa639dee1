"""Issue #16 (x16b) in the window: a split expense is one row saying "3 lines"; the details pane lists
the lines with their tracking, the claim and the company's route; the edit dialog edits the lines (x16g)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from codatdesk.ui.dialogs.lines_editor import ACCOUNT, DESCRIPTION, NET, TAX, TAX_CODE
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


def _open_edit(qtbot, window, expense_id):
    select_ids(window, [expense_id])
    qtbot.waitUntil(lambda: window.edit_action.isEnabled(), timeout=5000)
    qtbot.keyClick(window.table, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    return window.expense_dialog


def _save(dialog):
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_a_two_line_expense_with_a_tracking_choice_is_added_through_the_dialog(qtbot, harness, window, tmp_path):
    harness.core.refresh_reference_data(harness.company_id)  # the sandbox's tracking categories
    window.editing.add_expense()
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    dialog = window.expense_dialog
    assert dialog.lines_editor.isHidden()  # a single-line expense stays a simple form
    dialog.set_values({"date": "2026-11-05", "supplier": "Trainline", "description": "Away day",
                       "account_code": "429", "bank_account": "090", "tax_code": "INPUT2",
                       "net": "10.00", "tax": "2.00", "currency": "GBP"})
    dialog.split_button.click()
    editor = dialog.lines_editor
    assert editor.row_count() == 2 and not dialog.inputs["net"].isEnabled()
    for column, text in ((ACCOUNT, "493"), (DESCRIPTION, "Train"), (NET, "30.00"), (TAX, "0.00"),
                         (TAX_CODE, "ZERORATEDINPUT")):
        editor.set_cell(1, column, text)
    tracking = editor.tracking_button(1)
    labels = [a.text() for a in tracking.menu().actions()]
    assert "Departments: Finance" in labels and "Departments" not in labels  # leaves only, with their parent
    tracking.choose("DEPARTMENT_3")
    assert tracking.text() == "Departments: Finance"
    qtbot.waitUntil(lambda: dialog.inputs["total"].text() == "42.00", timeout=2000)  # follows the lines
    assert "= 42.00" in editor.totals.text()
    save(dialog, shots_folder(tmp_path), "expense-dialog-lines")
    _save(dialog)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    stored = harness.core.expense_values(window.model.row_at(0).id)
    assert [(ln.account_code, str(ln.net), str(ln.tax), ln.tax_code, ln.description, ln.tracking)
            for ln in stored.lines] == [("429", "10.00", "2.00", "INPUT2", "Away day", ()),
                                        ("493", "30.00", "0.00", "ZERORATEDINPUT", "Train", ("DEPARTMENT_3",))]
    assert str(stored.total) == "42.00"


def test_a_split_expenses_line_is_edited_in_the_dialog(qtbot, harness, window):
    harness.core.refresh_reference_data(harness.company_id)
    ids = _import(harness, window, qtbot)
    dialog = _open_edit(qtbot, window, ids["Acme Office Supplies"])
    editor = dialog.lines_editor
    assert editor.row_count() == 3 and dialog.split_button.isHidden()
    assert editor.tracking_button(0).text() == "Departments: Engineering"  # the imported id, labelled
    assert editor.tracking_button(1).labels() == ["Departments: Sales", "Projects: Website relaunch"]
    editor.set_cell(2, NET, "25.00")
    qtbot.waitUntil(lambda: dialog.inputs["total"].text() == "119.00", timeout=2000)
    editor.tracking_button(2).choose("PROJECT_2")
    _save(dialog)
    qtbot.waitUntil(lambda: str(harness.core.expense_values(ids["Acme Office Supplies"]).total) == "119.00",
                    timeout=5000)
    lines = harness.core.expense_values(ids["Acme Office Supplies"]).lines
    assert (str(lines[2].net), lines[2].tracking) == ("25.00", ("PROJECT_2",))
    assert lines[0].tracking == ("DEPARTMENT_2",) and len(lines) == 3


def test_a_total_that_is_not_the_lines_sum_shows_the_cores_problem(qtbot, harness, window):
    ids = _import(harness, window, qtbot)
    dialog = _open_edit(qtbot, window, ids["Acme Office Supplies"])
    dialog.set_values({"total": "100.00"})
    _save(dialog)
    assert dialog.isVisible()
    error = dialog.error_labels["lines"]
    assert error.isVisible() and "the lines add up to 114.00" in error.text() and "not the expense's total 100.00" \
        in error.text()
    dialog.lines_editor.set_cell(0, NET, "abc")
    assert "line 1: the net" in error.text()
