"""Unexpected errors: logged, then shown in a dialog with copyable details and the log's path.

``sys.excepthook`` and ``threading.excepthook`` may run on any thread; they only
log and emit a signal, and the dialog opens on the GUI thread (queued connection).
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from codatdesk.logging_setup import redact

log = logging.getLogger("codatdesk.crash")


def describe_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                       thread_name: str = "") -> str:
    from codatdesk import __version__

    lines = [f"codatdesk {__version__} · Python {platform.python_version()} · PySide6 {pyside_version} · "
             f"{platform.platform()}"]
    if thread_name:
        lines.append(f"thread: {thread_name}")
    lines.append("".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
    return redact("\n".join(lines))  # never put a secret on the clipboard


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


class CrashReporter(QObject):
    crashed = Signal(str, str)  # summary, details (emitted from any thread)

    def __init__(self, log_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.dialog: CrashDialog | None = None
        self._previous_hooks: tuple | None = None
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        if self._previous_hooks is not None:
            sys.excepthook, threading.excepthook = self._previous_hooks
            self._previous_hooks = None

    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb, threading.current_thread().name)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.report(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback,
                    args.thread.name if args.thread else "")

    def report(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
               thread_name: str = "") -> None:
        log.critical("unexpected error", exc_info=(exc_type, exc, tb))
        summary = redact(f"{exc_type.__name__}: {exc}")
        try:
            self.crashed.emit(summary, describe_exception(exc_type, exc, tb, thread_name))
        except RuntimeError:  # the reporter is gone (shutdown): the log has it
            pass

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add(summary, details)
            return
        parent = QApplication.activeWindow()
        self.dialog = CrashDialog(summary, details, self.log_path, parent)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.destroyed.connect(self._forget_dialog)
        self.dialog.open()

    @Slot()
    def _forget_dialog(self) -> None:
        self.dialog = None
