"""The window shows before the core: light imports, 'Loading…', then attach_core fills it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codatdesk.ui.main_window import MainWindow
from codatdesk.ui.ui_state import UiState
from tests.engine_harness import row

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "uvicorn", "starlette", "keyring", "hashlib", "codatdesk.engine",
         "codatdesk.store", "codatdesk.importer", "codatdesk.events", "PySide6.QtNetwork", "codatdesk.ui.crash_dialog")
# The table's read model: decimal and datetime only; it imports SQLAlchemy at its first read.
LIGHT_STORE = ("codatdesk.store", "codatdesk.store.expense_rows", "codatdesk.store.scaled_money")


def test_the_window_and_app_modules_import_nothing_heavy():
    code = ("import sys, codatdesk.ui.app, codatdesk.ui.main_window, codatdesk.ui.startup_probe; "
            f"print(sorted(m for m in sys.modules if (m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r} "
            f"or m.startswith(('codatdesk.engine.', 'codatdesk.store.'))) and m not in {LIGHT_STORE!r}))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.strip() == "[]", "imported before the window can show: " + found.stdout


def test_a_window_without_its_core_says_loading_then_fills_when_attached(qtbot, harness, ui_state_dir):
    harness.import_rows([row(1), row(2)])
    window = MainWindow(ui_state=UiState(ui_state_dir / "ui.ini"))
    qtbot.addWidget(window)
    window.show()
    assert window.loading_label.isVisible() and window.count_label.text() == "Loading…"
    assert not window.push_action.isEnabled() and not window.import_action.isEnabled()
    window.tabs.setCurrentWidget(window.activity)  # a tab shown before the store is there reads when it is
    window.tabs.setCurrentIndex(0)

    window.attach_core(harness.core)
    assert window.model.rowCount() == 2 and not window.loading_label.isVisible()
    assert window.import_action.isEnabled() and window.count_label.text() == "2 expenses"
    window.table.selectAll()
    assert window.push_action.isEnabled()
    with pytest.raises(RuntimeError):
        window.attach_core(harness.core)
    window.bridge.detach()


def test_the_lock_is_taken_before_the_window_and_the_raise_server_listens_after(qtbot, tmp_path):
    from codatdesk.ui.single_instance import SingleInstance

    first = SingleInstance("test", data_dir=tmp_path)
    second = SingleInstance("test", data_dir=tmp_path)
    try:
        assert first.try_lock()
        first.listen()
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert not second.try_lock()
    finally:
        first.release()
        second.release()
