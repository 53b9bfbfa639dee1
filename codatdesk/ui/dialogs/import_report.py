"""The all-or-nothing CSV import's report: every bad line, or what was added."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from codatdesk.importer import ImportReport


class ImportReportDialog(QDialog):
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
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        if self.table is not None:
            layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        if not report.ok:
            copy = buttons.addButton("&Copy list", QDialogButtonBox.ButtonRole.ActionRole)
            copy.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.resize(720, 380 if self.table is not None else 160)

    def as_text(self) -> str:
        return "\n".join([self.report.summary(), *(f"  {e}" for e in self.report.errors)])

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
