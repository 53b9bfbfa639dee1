"""Amounts typed in the user's locale, shown as understood; a file's number format chosen on import."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDialogButtonBox, QPushButton

from codatdesk.ui.dialogs.expense_dialog import ExpenseDialog
from codatdesk.ui.dialogs.import_report import ImportReportDialog

FORM = {"date": "2024-03-05", "supplier": "Café", "account_code": "429", "bank_account": "090", "currency": "EUR"}


@pytest.fixture
def locale_named():
    before = QLocale()

    def use(name: str) -> None:
        QLocale.setDefault(QLocale(name))

    yield use
    QLocale.setDefault(before)


def test_a_german_user_types_a_decimal_comma_and_sees_what_was_understood(qtbot, locale_named):
    locale_named("de_DE")
    dialog = ExpenseDialog(default_currency="EUR")
    qtbot.addWidget(dialog)
    dialog.set_values({**FORM, "net": "70,00", "tax": "13,30"})
    assert dialog.inputs["total"].text() == "83,30"
    assert dialog.reading_labels["net"].text() == "read as 70,00 EUR"
    dialog.set_values({"net": "1.070,00", "total": "1.083,30"})
    assert dialog.reading_labels["net"].text() == "read as 1.070,00 EUR"
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result_values["net"] == Decimal("1070.00") and dialog.result_values["total"] == Decimal("1083.30")


def test_the_reported_bug_70_comma_00_is_refused_where_the_comma_is_not_the_decimal_mark(qtbot, locale_named):
    locale_named("en_GB")
    dialog = ExpenseDialog(default_currency="EUR")
    qtbot.addWidget(dialog)
    dialog.set_values({**FORM, "net": "70,00", "tax": "0", "total": "70,00"})
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result_values == {}  # not saved as 7000.00
    assert "not written like 1,234.56" in dialog.error_labels["net"].text()  # says how to write it
    assert dialog.reading_labels["net"].text() == ""
    dialog.set_values({"net": "70.00", "total": "70.00"})
    assert dialog.reading_labels["net"].text() == "read as 70.00 EUR"


def test_editing_shows_stored_amounts_in_the_users_format(qtbot, locale_named):
    locale_named("fr_FR")
    dialog = ExpenseDialog({"net": Decimal("1234.5"), "tax": Decimal("0"), "total": Decimal("1234.5"),
                            "currency": "EUR", "supplier_name": "x"})
    qtbot.addWidget(dialog)
    assert dialog.inputs["net"].text() == "1\u202f234,50"
    values = dialog.raw_values()
    assert values["net"] == "1\u202f234,50"


def test_an_ambiguous_file_can_be_imported_again_in_the_format_the_user_names(qtbot, tmp_path, window):
    path = tmp_path / "kwd.csv"
    path.write_text("date,supplier,account_code,net,tax,total,currency\n"
                    "2024-03-01,Souq,429,\"1,250\",0,\"1,250\",KWD\n", encoding="utf-8")
    window.import_file(str(path))
    qtbot.waitUntil(lambda: isinstance(getattr(window, "import_dialog", None), ImportReportDialog)
                    and window.import_dialog.isVisible(), timeout=5000)
    dialog = window.import_dialog
    assert "reads two ways" in dialog.table.item(0, 2).text()
    assert dialog.format_choice is not None
    dialog.format_choice.setCurrentIndex(dialog.format_choice.findText("1.234.567,89  (de_DE)"))
    first = dialog
    again = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Import &again")
    again.click()
    # The table hears of the import (an event) before the report arrives: wait for both.
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.import_dialog is not first, timeout=5000)
    assert window.import_dialog.report.ok
    assert window.model.row_at(0).net == Decimal("1.250")
