"""The crash dialog: what went wrong, copyable details, the log's path (see ``crash.CrashReporter``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget


class CrashDialog(QDialog):
    def __init__(self, summary: str, details: str, log_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("codatdesk hit an unexpected error")
        self.count = 1
        intro = QLabel("<b>Something went wrong inside codatdesk.</b> Your expenses and their statuses are safe "
                       "in the database; anything already sent to Codat stays sent. You can keep working, or quit "
                       "and start again. Please send the details below (and the log file) to support.")
        intro.setWordWrap(True)
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_path = log_path
        log_label = QLabel(f"Log file: {log_path}" if log_path else "No log file is configured.")
        log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        log_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.copy_button = self.buttons.addButton("&Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        if log_path:
            open_logs = self.buttons.addButton("Open &log folder", QDialogButtonBox.ButtonRole.ActionRole)
            open_logs.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_path.parent))))
        self.quit_button = self.buttons.addButton("&Quit codatdesk", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.quit_button.clicked.connect(QApplication.quit)
        keep = self.buttons.addButton("&Keep working", QDialogButtonBox.ButtonRole.AcceptRole)
        keep.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.summary)
        layout.addWidget(self.details, 1)
        layout.addWidget(log_label)
        layout.addWidget(self.buttons)
        self.resize(760, 460)

    def add(self, summary: str, details: str) -> None:
        """Another error while the dialog is open: append instead of stacking dialogs."""
        self.count += 1
        self.summary.setText(f"{summary} (and {self.count - 1} earlier error(s) below)")
        self.details.appendPlainText("\n" + "-" * 60 + "\n" + details)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(f"{self.summary.text()}\n\n{self.details.toPlainText()}")
