"""Shared pieces: one run's result protocol, statistics, the figures table, machine facts.

Every benchmark is a module with ``SPEC`` (the rows it reports) and ``run(size) -> dict``
(one run's figures, in the units of the rows). The runner (``python -m benchmarks``) runs
each benchmark in a fresh subprocess per run, so memory, Qt state and threads never leak
from one run into the next.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RESULT_MARK = "BENCHMARK-RESULT "
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its target, and what it is compared with."""

    bench: str
    what: str
    metric: str  # key in run()'s dict
    unit: str
    target: str = "—"
    meets: Callable[[float], bool] | None = None  # judged on the median
    alternative: str | None = None  # key of the alternative's figure
    alternative_label: str = ""
    ratio: str | None = None  # "alt/fig" (how many times better we are) or "fig/alt"
    ratio_meets: Callable[[float], bool] | None = None
    decimals: int = 1


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def emit_result(figures: dict[str, float]) -> None:
    """The last line a benchmark subprocess prints: its figures as JSON."""
    print(RESULT_MARK + json.dumps(figures), flush=True)


def parse_result(stdout: str) -> dict[str, float]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise ValueError("the benchmark printed no result line")


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary data folder on the same disk a user's data folder would be on."""
    with tempfile.TemporaryDirectory(prefix=f"codatdesk-bench-{prefix}-") as path:
        yield Path(path)


def isolated_environment(home: Path) -> dict[str, str]:
    """Environment for a child process: its own data dir, offscreen Qt, no real keyring."""
    env = dict(os.environ)
    env.update({
        "CODATDESK_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
    })
    return env


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.005) -> float:
    """Poll until ``predicate`` is truthy; returns the monotonic time it became so."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def machine_facts() -> dict[str, str]:
    facts = {
        "cpu cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory_total(),
        "os": f"{platform.system()} {platform.release()} ({_os_release()})",
        "python": sys.version.split()[0] + f" ({platform.python_implementation()})",
    }
    try:
        import PySide6
        from PySide6 import QtCore

        facts["qt"] = f"Qt {QtCore.qVersion()}, PySide6 {PySide6.__version__}"
    except ImportError:
        facts["qt"] = "not installed"
    for name in ("sqlalchemy", "uvicorn", "httptools", "starlette", "httpx", "h11"):
        try:
            module = __import__(name)
            facts[name] = getattr(module, "__version__", "?")
        except ImportError:
            pass
    import sqlite3

    facts["sqlite"] = sqlite3.sqlite_version
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024} MB"
    except OSError:
        pass
    return "?"


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "?"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


# -- what a window shows, and when (B1, B7): Qt is imported only by the benchmarks that show one --------------------

def note_rows_complete(model, marks: dict[int, float]) -> None:
    """Note in ``marks`` when each row of the expenses ``model`` first shows Push complete (its ``dataChanged``)."""
    from codatdesk.states import ExpenseStatus

    def on_changed(top_left, bottom_right, _roles=()) -> None:
        now = time.monotonic()
        for position in range(top_left.row(), bottom_right.row() + 1):
            row = model.row_at(position)
            if row.status is ExpenseStatus.COMPLETE and row.id not in marks:
                marks[row.id] = now

    model.dataChanged.connect(on_changed)


def gui_heartbeat(ticks: list[float]):
    """A 5 ms timer on the GUI thread noting each tick in ``ticks``; the longest gap between two is the longest
    stall. Returns the timer (keep it, and stop it when done)."""
    from PySide6.QtCore import Qt, QTimer

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start()
    return heartbeat


def longest_gap_ms(ticks: list[float], start: float, end: float) -> float:
    """The longest gap between the ticks from ``start`` to ``end`` (monotonic seconds), in ms."""
    inside = [t for t in ticks if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0) * 1000
