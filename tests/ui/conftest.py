"""UI test fixtures (the in-memory keyring comes from tests/conftest.py)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import pytest


@pytest.fixture
def ui_state_dir(tmp_path):
    path = tmp_path / "ui-state"
    path.mkdir()
    return path
