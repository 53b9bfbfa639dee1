"""One team desktop for B7, in its own process as on its own computer: ``python -m benchmarks.b7_desktop CONFIG``.

A ``TeamDesktopCore`` (no Codat key, no listener: what ``codatdesk`` runs on a desktop whose database is
the team's PostgreSQL) in a real ``MainWindow``, offscreen and shown, over the rows already seeded.
Prints ``ready`` once the table shows them, then waits for ``go START`` on stdin (START: when the sender
begins, CLOCK_MONOTONIC, shared by the processes of one machine). From then on it notes when each row
first turned *Push complete* on its bus and in its model's ``dataChanged``, and ticks a 5 ms timer on
the GUI thread; once ``count`` rows have changed (or the time is up) it prints one JSON line:
``{"shown": {id: t}, "heard": {id: t}, "stall_ms": longest gap between ticks}``. With ``B7_TRACE=1`` it
also prints its five longest gaps (when, after START) and what its row refreshes cost, on stderr; with
``B7_TRACE=2``, also the GUI-thread events over 5 ms inside the three longest gaps (a timer: whose).
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

    slow_events: list[tuple[float, float, str]] = []  # B7_TRACE=2: GUI-thread events over 5 ms (start, ms, what)
    if os.environ.get("B7_TRACE") == "2":
        class TracingApp(QApplication):
            def notify(self, receiver, event):
                began = time.monotonic()
                try:
                    return super().notify(receiver, event)
                finally:
                    took = time.monotonic() - began
                    if took > 0.005:
                        what = f"{event.type().name}->{type(receiver).__name__}"
                        if hasattr(receiver, "interval"):  # a QTimer: whose, and how often
                            parent = receiver.parent()
                            what += f"({receiver.interval()}ms of {type(parent).__name__ if parent else None})"
                        slow_events.append((began, took * 1000, what))

        app = TracingApp([])
    else:
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
    fetches: list[float] = []  # ms of it reading the rows
    if os.environ.get("B7_TRACE"):
        original = window.row_reads._arrived  # the GUI thread's part of a refresh (the read is on another)

        def timed(*args, original=original) -> None:
            began = time.perf_counter()
            original(*args)
            refreshes.append((time.perf_counter() - began) * 1000)

        window.row_reads._arrived = timed
        fetch = window.model._fetch_ids

        def timed_fetch(ids, fetch=fetch):
            began = time.perf_counter()
            try:
                return fetch(ids)
            finally:
                fetches.append((time.perf_counter() - began) * 1000)

        window.model._fetch_ids = timed_fetch
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
        for g, at in gaps[-3:]:
            inside = [f"{ms:.0f}ms {what}@{b - started:.3f}" for b, ms, what in slow_events
                      if started + at - 0.01 <= b <= started + at + g / 1000]
            print(f"  in {g:.0f}ms@{at:.3f}s: " + ("; ".join(inside) or "no event over 5 ms"), file=sys.stderr,
                  flush=True)
    if refreshes:
        refreshes.sort()
        print(f"refreshes {len(refreshes)} p50 {refreshes[len(refreshes)//2]:.1f} p90 {refreshes[len(refreshes)*9//10]:.1f} "
              f"max {refreshes[-1]:.1f} ms; reading rows (another thread): total {sum(fetches):.0f} ms",
              file=sys.stderr, flush=True)
    print(json.dumps({"shown": shown, "heard": heard, "stall_ms": stall}), flush=True)
    window.bridge.detach()
    window.close()
    core.stop()
    core.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
