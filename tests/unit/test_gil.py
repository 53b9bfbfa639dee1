"""A started core hands the interpreter over after 1 ms (codatdesk/engine/gil.py says why)."""

from __future__ import annotations

import sys

import pytest

from codatdesk.engine.core import Core
from codatdesk.engine.gil import SWITCH_INTERVAL_S, answer_waiting_threads_sooner
from codatdesk.settings import Settings


@pytest.fixture
def python_default_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default, whatever an earlier test's core left
    yield
    sys.setswitchinterval(before)


def test_a_started_core_waits_1_ms_not_5_before_handing_over_the_gil(tmp_path, db, python_default_interval):
    core = Core(Settings(tmp_path / "settings.json", environ={}), db, listen=False)
    core.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
    finally:
        core.stop()


def test_a_shorter_interval_set_by_someone_else_is_kept(python_default_interval):
    sys.setswitchinterval(0.0002)
    answer_waiting_threads_sooner()
    assert sys.getswitchinterval() == pytest.approx(0.0002)
