"""Unexpected errors: logged, then shown in a dialog with copyable details and the log's path.

``sys.excepthook`` and ``threading.excepthook`` may run on any thread; they only
log and emit a signal, and the dialog opens on the GUI thread (queued connection).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication

from codatdesk.logging_setup import redact

if TYPE_CHECKING:
    from codatdesk.ui.crash_dialog import CrashDialog

# The dialog (and its widgets) is imported when there is a crash to show, not at every start.

log = logging.getLogger("codatdesk.crash")


def describe_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                       thread_name: str = "") -> str:
    import platform

    from PySide6 import __version__ as pyside_version

    from codatdesk import __version__

    lines = [f"codatdesk {__version__} · Python {platform.python_version()} · PySide6 {pyside_version} · "
             f"{platform.platform()}"]
    if thread_name:
        lines.append(f"thread: {thread_name}")
    lines.append("".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
    return redact("\n".join(lines))  # never put a secret on the clipboard


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
        from codatdesk.ui.crash_dialog import CrashDialog

        parent = QApplication.activeWindow()
        self.dialog = CrashDialog(summary, details, self.log_path, parent)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.destroyed.connect(self._forget_dialog)
        self.dialog.open()

    @Slot()
    def _forget_dialog(self) -> None:
        self.dialog = None


def __getattr__(name: str) -> Any:
    if name == "CrashDialog":  # where it used to live
        from codatdesk.ui.crash_dialog import CrashDialog

        return CrashDialog
    raise AttributeError(name)
