"""PySide6 6.12.0 on CPython 3.11 drops a reference to True on every Signal.emit and
aborts after a few hundred emits (../shared/notes/platform-facts.md). This guards the pin."""

import subprocess
import sys

SCRIPT = """
import sys
from PySide6.QtCore import QObject, Signal
class B(QObject):
    s = Signal(int)
b = B()
seen = []
b.s.connect(seen.append)
before = sys.getrefcount(True)
for i in range(10_000):
    b.s.emit(i)
print(len(seen), sys.getrefcount(True) - before)
"""


def test_ten_thousand_emits_neither_crash_nor_leak_a_reference_to_true():
    # In a child process: the bug is a fatal abort, which would kill the test runner.
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    received, refcount_drift = map(int, done.stdout.split())
    assert received == 10_000
    assert abs(refcount_drift) < 50


def test_the_dependency_pin_excludes_612_on_python_311():
    import pathlib
    import tomllib

    project = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if d.lower().startswith("pyside6")]
    assert any("<6.12" in d and "python_version < '3.12'" in d for d in pins), pins
