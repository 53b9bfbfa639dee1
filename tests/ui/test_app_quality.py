"""Crash dialog, one instance at a time, remembered window state, and the demo start."""

from __future__ import annotations

import threading

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from codatdesk.logging_setup import register_secret
from codatdesk.ui.crash import CrashDialog, CrashReporter
from codatdesk.ui.expense_model import Column
from codatdesk.ui.main_window import MainWindow
from codatdesk.ui.single_instance import SingleInstance
from codatdesk.ui.ui_state import UiState


def test_an_exception_in_a_worker_thread_opens_one_crash_dialog_on_the_gui_thread(qtbot, tmp_path):
    register_secret("sk_live_supersecret")
    reporter = CrashReporter(tmp_path / "logs" / "codatdesk.log")
    reporter.install()
    try:
        def boom() -> None:
            raise ValueError("bad things with sk_live_supersecret")

        thread = threading.Thread(target=boom, name="push-worker-1")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
        dialog: CrashDialog = reporter.dialog
        details = dialog.details.toPlainText()
        assert "ValueError" in details and "push-worker-1" in details and "Traceback" in details
        assert "sk_live_supersecret" not in details and "[redacted]" in details
        assert str(tmp_path / "logs" / "codatdesk.log") in " ".join(
            label.text() for label in dialog.findChildren(type(dialog.summary)))
        # A second error while it is open is appended, not stacked.
        try:
            raise KeyError("second")
        except KeyError as exc:
            reporter.excepthook(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: dialog.count == 2, timeout=5000)
        assert "KeyError" in dialog.details.toPlainText()
        dialog.copy_button.click()
        assert "ValueError" in QGuiApplication.clipboard().text()
        dialog.close()
    finally:
        reporter.uninstall()


def test_a_second_instance_raises_the_first_and_stops(qtbot, tmp_path):
    first = SingleInstance("test", data_dir=tmp_path)
    second = SingleInstance("test", data_dir=tmp_path)
    try:
        assert first.try_become_primary()
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert not second.try_become_primary()
        first.release()
        third = SingleInstance("test", data_dir=tmp_path)
        assert third.try_become_primary()  # the lock is free again
        third.release()
        other = SingleInstance("demo", data_dir=tmp_path)  # the demo is separate from the real app
        assert other.try_become_primary()
        other.release()
    finally:
        first.release()
        second.release()


def test_geometry_splitter_and_columns_are_remembered(qtbot, harness, ui_state_dir):
    state = UiState(ui_state_dir / "ui-state.ini")
    window = MainWindow(harness.core, ui_state=state)
    qtbot.addWidget(window)
    window.show()
    window.resize(777, 555)
    window.splitter.setSizes([500, 250])
    window.table.setColumnWidth(Column.SUPPLIER, 222)
    qtbot.wait(10)
    sizes = window.splitter.sizes()
    window.tabs.setCurrentIndex(3)
    window.close()
    assert (ui_state_dir / "ui-state.ini").exists()

    again = MainWindow(harness.core, ui_state=UiState(ui_state_dir / "ui-state.ini"))
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(10)
    assert (again.width(), again.height()) == (777, 555)
    assert again.tabs.currentIndex() == 3
    again.tabs.setCurrentIndex(0)
    qtbot.wait(10)
    assert again.splitter.sizes() == sizes
    assert again.table.columnWidth(Column.SUPPLIER) == 222
    again.close()


def test_keyboard_reaches_every_main_action(qtbot, harness, ui_state_dir):
    window = MainWindow(harness.core, ui_state=UiState(ui_state_dir / "ui.ini"))
    qtbot.addWidget(window)
    shortcuts = {a.text().replace("&", ""): a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()}
    for name, key in {"Push selected": "Ctrl+P", "Retry failed": "Ctrl+R", "Import expenses…": "Ctrl+I",
                      "Export view to CSV…": "Ctrl+E", "Add expense…": "Ctrl+N", "Edit expense…": "F2",
                      "Find": "Ctrl+F", "Settings…": "Ctrl+,"}.items():
        assert shortcuts.get(name) == key, name
    assert len(set(shortcuts.values())) == len(shortcuts)  # no clashes
    menus = [m.title() for m in window.menuBar().findChildren(type(window.menuBar().actions()[0].menu()))]
    assert all("&" in title for title in menus)
    window.close()


def test_run_gui_demo_starts_the_sandbox_and_shows_sample_expenses(qtbot, monkeypatch):
    from codatdesk.ui import app as app_module

    seen = {}

    def poll() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].model.rowCount() > 0:
            seen["rows"] = windows[0].model.rowCount()
            seen["title"] = windows[0].windowTitle()
            windows[0].close()
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    QTimer.singleShot(30_000, QApplication.quit)  # safety net: never hang the suite
    assert app_module.run_gui(demo=True) == 0
    assert seen["rows"] > 0 and "demo" in seen["title"]
