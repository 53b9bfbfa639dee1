"""The all-or-nothing import's report: how the file was read, and every bad line or what was added.

When amounts could not be read (a value that reads two ways, a format the detection did not
pick), the user can name the file's number format and import again.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from codatdesk.amounts import file_formats
from codatdesk.importer import AMOUNT_COLUMNS, ImportReport


class ImportReportDialog(QDialog):
    import_again = Signal(object)  # the NumberFormat the user chose for the file

    def __init__(self, report: ImportReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        layout = QVBoxLayout(self)
        if report.ok:
            self.setWindowTitle("Import finished")
            text = (f"<b>{report.added}</b> expense(s) added"
                    + (f", {report.already_present} already present (not added twice)" if report.already_present else "")
                    + f".<br>From {report.path}")
            self.table = None
        else:
            self.setWindowTitle("Nothing was imported")
            text = (f"<b>Nothing was imported</b>: the file has {len(report.errors)} problem(s). "
                    "Fix every line listed and import the file again; a file is imported whole or not at all."
                    f"<br>{report.path}")
            self.table = QTableWidget(len(report.errors), 3)
            self.table.setHorizontalHeaderLabels(["Line", "Column", "Problem"])
            self.table.verticalHeader().hide()
            self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            for row, error in enumerate(report.errors):
                self.table.setItem(row, 0, QTableWidgetItem(str(error.line) if error.line else "file"))
                self.table.setItem(row, 1, QTableWidgetItem(error.column))
                reason = QTableWidgetItem(error.reason)
                reason.setToolTip(error.reason)
                self.table.setItem(row, 2, reason)
            header = self.table.horizontalHeader()
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        how = report.how_read()
        if how:
            text += f"<br><small>{how[0].upper() + how[1:]}.</small>"
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        if self.table is not None:
            layout.addWidget(self.table, 1)
        self.format_choice: QComboBox | None = None
        if any(e.column in AMOUNT_COLUMNS and "bad amount" in e.reason for e in report.errors):
            row = QHBoxLayout()
            choice = QComboBox()
            for fmt in file_formats():
                choice.addItem(f"{fmt.example}  ({fmt.locale})", fmt)
            # Offer first a format other than the one the detection tried.
            others = [i for i in range(choice.count()) if not report.number_format.startswith(
                choice.itemData(i).example)]
            choice.setCurrentIndex(others[0] if others else 0)
            prompt = QLabel("The file's &numbers are written like:")
            prompt.setBuddy(choice)
            again = QPushButton("Import &again")
            again.clicked.connect(lambda: self._import_again(choice.currentData()))
            row.addWidget(prompt)
            row.addWidget(choice, 1)
            row.addWidget(again)
            layout.addLayout(row)
            self.format_choice = choice
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        if not report.ok:
            copy = buttons.addButton("&Copy list", QDialogButtonBox.ButtonRole.ActionRole)
            copy.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.resize(720, 380 if self.table is not None else 160)

    def _import_again(self, fmt: object) -> None:
        self.import_again.emit(fmt)
        self.accept()

    def as_text(self) -> str:
        return "\n".join([self.report.summary(), *(f"  {e}" for e in self.report.errors)])

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
