"""One team desktop for B7, in its own process as on its own computer: ``python -m benchmarks.b7_desktop CONFIG``.

A ``TeamDesktopCore`` (no Codat key, no listener: what ``codatdesk`` runs on a desktop whose database is
the team's PostgreSQL) in a real ``MainWindow``, offscreen and shown, over the rows already seeded.
Prints ``ready`` once the table shows them, then waits for ``go START`` on stdin (START: when the sender
begins, CLOCK_MONOTONIC, shared by the processes of one machine). From then on it notes when each row
first turned *Push complete* on its bus and in its model's ``dataChanged``, and ticks a 5 ms timer on
the GUI thread; once ``count`` rows have changed (or the time is up) it prints one JSON line:
``{"shown": {id: t}, "heard": {id: t}, "stall_ms": longest gap between ticks}``. With ``B7_TRACE=1`` it
also prints its five longest gaps (when, after START) and what its row refreshes cost, on stderr.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    config = json.loads(sys.argv[1])
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSocketNotifier, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.common import gui_heartbeat, longest_gap_ms, note_rows_complete
    from codatdesk.events import ExpenseChanged
    from codatdesk.heap import settle_after_start
    from codatdesk.settings import Settings
    from codatdesk.states import ExpenseStatus
    from codatdesk.store.db import open_database
    from codatdesk.team.desktop import TeamDesktopCore
    from codatdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    folder = Path(config["dir"])
    settings = Settings(folder / "settings.json", environ={})
    settings.update({"codat.company_id": config["company_id"]})
    core = TeamDesktopCore(settings, open_database(config["database"]))
    core.start()
    window = MainWindow(core)
    window.resize(1280, 800)
    window.show()
    rows, count = config["rows"], config["count"]
    deadline = time.monotonic() + 120
    while window.model.rowCount() < rows and time.monotonic() < deadline:
        app.processEvents()
    settle_after_start()  # as run_gui does once the table is loaded

    heard: dict[int, float] = {}
    shown: dict[int, float] = {}

    def on_event(event: object) -> None:  # the change feed's thread
        if isinstance(event, ExpenseChanged) and event.new is ExpenseStatus.COMPLETE:
            heard.setdefault(event.expense_id, time.monotonic())

    core.bus.subscribe(on_event)
    note_rows_complete(window.model, shown)
    refreshes: list[float] = []  # ms per coalesced refresh (B7_TRACE)
    if os.environ.get("B7_TRACE"):
        original = window.coalescer._flush

        def timed(ids, original=original) -> None:
            began = time.perf_counter()
            original(ids)
            refreshes.append((time.perf_counter() - began) * 1000)

        window.coalescer._flush = timed
    print("ready", flush=True)
    started = float(sys.stdin.readline().split()[1])

    ticks: list[float] = []
    heartbeat = gui_heartbeat(ticks)
    loop = QEventLoop()
    give_up = started + count / config["rate"] + 60
    check = QTimer()
    check.setInterval(20)
    check.timeout.connect(lambda: (len(shown) >= count or time.monotonic() > give_up) and loop.quit())
    check.start()
    stdin_closed = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)  # the parent gave up
    stdin_closed.activated.connect(loop.quit)
    loop.exec()
    heartbeat.stop()
    last = max(shown.values(), default=started)
    stall = longest_gap_ms(ticks, started, last + 0.05)
    if os.environ.get("B7_TRACE"):  # where the GUI thread went: its longest gaps, and the row refreshes' cost
        window_ticks = [t for t in ticks if started <= t <= last + 0.05]
        gaps = sorted(((b - a) * 1000, a - started) for a, b in itertools.pairwise(window_ticks))[-5:]
        print("gaps " + " ".join(f"{g:.0f}ms@{at:.2f}s" for g, at in gaps), file=sys.stderr, flush=True)
    if refreshes:
        refreshes.sort()
        print(f"refreshes {len(refreshes)} p50 {refreshes[len(refreshes)//2]:.1f} p90 {refreshes[len(refreshes)*9//10]:.1f} "
              f"max {refreshes[-1]:.1f} ms", file=sys.stderr, flush=True)
    print(json.dumps({"shown": shown, "heard": heard, "stall_ms": stall}), flush=True)
    window.bridge.detach()
    window.close()
    core.stop()
    core.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
