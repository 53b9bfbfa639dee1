"""UI test fixtures: a Core against the sandbox and a shown MainWindow (the in-memory keyring comes from tests/conftest.py)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import pytest

from codatdesk.sandbox import SandboxConfig
from tests.engine_harness import Harness


@pytest.fixture
def ui_state_dir(tmp_path):
    path = tmp_path / "ui-state"
    path.mkdir()
    return path


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path, SandboxConfig(push_delay=0.05, seed=1))
    h.start_sandbox()
    h.start_core()
    yield h
    h.stop()


@pytest.fixture
def window(qtbot, harness, ui_state_dir):
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    w = MainWindow(harness.core, ui_state=UiState(ui_state_dir / "ui.ini"))
    # pytest-qt closes the window before fixtures end: a batch still sending then would open the modal
    # "Pushes still running?" question, which no one answers in a test (it hung a full run).
    w._confirmed_close = True
    qtbot.addWidget(w)
    w.resize(1400, 800)
    w.show()
    yield w
    w.bridge.detach()
