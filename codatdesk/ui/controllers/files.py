"""Files: import expenses (all lines or none, with the report) and export the rows shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.amounts import NumberFormat
    from codatdesk.importer import ImportReport
    from codatdesk.ui.controllers.host import Host


class FilesController(QObject):
    def __init__(self, host: Host, window: QWidget) -> None:
        super().__init__(window)
        self.host = host
        self.window = window
        self.import_dialog: QWidget | None = None

    def choose_file_to_import(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self.window, "Import expenses", str(Path.home()),
            "Expense files (*.csv *.txt *.xlsx);;CSV files (*.csv *.txt);;Excel workbooks (*.xlsx);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str, number_format: NumberFormat | None = None) -> None:
        """Import in the background; ``number_format`` None: detected from the file."""
        core = self.host.core
        assert core is not None
        company_id = self.host.company_id or core.company_id
        self.host.statusBar().showMessage(f"Importing {path}…")
        run_in_background(lambda: core.import_file(path, company_id, number_format=number_format),
                          self._show_import_report, self.host.background_failed, owner=self.window)

    def _show_import_report(self, report: ImportReport) -> None:
        host = self.host
        host.statusBar().showMessage(report.summary(), 8000)
        if report.ok and report.added:
            host.reload_companies(select_id=host.company_id or (host.core.company_id if host.core else None))
            host.model.sync()
        from codatdesk.ui.dialogs.import_report import ImportReportDialog

        dialog = ImportReportDialog(report, self.window)
        dialog.import_again.connect(lambda fmt, path=report.path: self.import_file(path, fmt))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.import_dialog = dialog
        dialog.open()

    def choose_export_path(self) -> None:
        name = f"codatdesk-{self.host.company_id or 'expenses'}-{dt.date.today().isoformat()}.csv"
        path, _filter = QFileDialog.getSaveFileName(self.window, "Export the rows shown to CSV",
                                                    str(Path.home() / name), "CSV files (*.csv)")
        if path:
            self.export_view_to(path)

    def export_view_to(self, path: str) -> int:
        from codatdesk.ui.export import export_csv, visible_rows

        rows = visible_rows(self.host.proxy)
        core = self.host.core
        details = core.export_details([r.id for r in rows]) if core is not None else None
        try:
            count = export_csv(rows, path, details)
        except OSError as exc:
            QMessageBox.warning(self.window, "Export failed", f"Could not write {path}:\n{exc}")
            return 0
        self.host.statusBar().showMessage(f"{count} row(s) exported to {path}", 8000)
        return count
