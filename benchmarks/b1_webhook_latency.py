"""B1 — webhook to row: signed deliveries at 200/s until ``dataChanged`` for the row.

The whole product path in one process, as the app runs it: the real listener
(verification, durable inbox), the applier (state machine, history), the core's bus,
the Qt bridge with its burst coalescing, and the table model inside the real
``MainWindow`` (offscreen platform, shown). N expenses are "Push in progress" with a
stored key; a sender process posts one signed ``directCosts.write.successful`` per key at
200/s (open loop, 4 connections). Latency = from the sender starting to send a delivery
to the model emitting ``dataChanged`` for that expense's row (CLOCK_MONOTONIC is shared
by the processes). A 5 ms GUI-thread heartbeat measures the longest stall.
The alternative: the bare server under the same 200/s, send to response.
"""

from __future__ import annotations

import os
import time

from benchmarks.common import Row, gui_heartbeat, longest_gap_ms, note_rows_complete, percentile, scratch_dir
from benchmarks.load import LOOPBACK, BareServer, Target, paced_sender, spawn

RATE = 200.0
SIZES = {"full": 2000, "smoke": 20}

SPEC = [
    Row("B1", "webhook → row, p50", "p50_ms", "ms", "≤ 5 ms", lambda v: v <= 5, "bare_p50_ms", "bare server p50",
        "fig/alt", None, decimals=2),
    Row("B1", "webhook → row, p99", "p99_ms", "ms", "≤ 25 ms", lambda v: v <= 25, "bare_p99_ms", "bare server p99",
        "fig/alt", None, decimals=2),
    Row("B1", "longest GUI-thread stall", "stall_ms", "ms", "≤ 50 ms", lambda v: v <= 50, decimals=1),
]


def _send(target: Target, keys: list[str]) -> list[tuple[int, float, float, int]]:
    start_at = time.monotonic() + 1.5
    process, queue = spawn(paced_sender, target, keys, RATE, start_at, 4)
    return process, queue


def run(size: str) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.headless import core_for
    from benchmarks.sandbox_proc import RemoteSandbox
    from benchmarks.setup import new_secret, seed_expenses
    from codatdesk import paths
    from codatdesk.states import ExpenseStatus
    from codatdesk.ui.main_window import MainWindow

    count = SIZES[size]
    secret = new_secret()
    sandbox = RemoteSandbox.start({"seed": 1})  # answers the core's connection checks; sends nothing here
    try:
        with scratch_dir("b1") as home:
            paths.set_data_dir(str(home))
            core = core_for(home, sandbox, listen=True, secrets=[secret])
            core.start()
            core.reconciler.wait_for_run(0, 60)
            pairs = seed_expenses(core.db, sandbox.company_id, count, status=ExpenseStatus.IN_PROGRESS,
                                  connection_id=sandbox.connection_id)
            app = QApplication.instance() or QApplication([])
            window = MainWindow(core)
            window.resize(1280, 800)
            window.show()
            model = window.model
            deadline = time.monotonic() + 30
            while model.rowCount() < count and time.monotonic() < deadline:
                app.processEvents()
            from codatdesk.heap import settle_after_start

            settle_after_start()  # as run_gui does once the core is attached and the table loaded

            seen: dict[int, float] = {}
            note_rows_complete(model, seen)
            applied: dict[int, float] = {}  # when the applier published the change (a breakdown)

            def on_event(event) -> None:
                if getattr(event, "new", None) is ExpenseStatus.COMPLETE:
                    applied.setdefault(event.expense_id, time.monotonic())

            core.bus.subscribe(on_event)
            ticks: list[float] = []
            heartbeat = gui_heartbeat(ticks)

            url = core.listener_url
            port = int(url.split(":")[2].split("/")[0])
            target = Target(LOOPBACK, port, core.listener.config.path, secret, sandbox.company_id,
                            sandbox.connection_id)
            process, queue = _send(target, [key for _, key in pairs])
            loop = QEventLoop()
            check = QTimer()
            check.setInterval(20)
            give_up = time.monotonic() + 1.5 + count / RATE + 60
            check.timeout.connect(lambda: (len(seen) >= count or time.monotonic() > give_up) and loop.quit())
            check.start()
            loop.exec()
            heartbeat.stop()
            records = queue.get(timeout=60)
            process.join(10)
            first_sent = records[0][1]
            last_seen = max(seen.values(), default=first_sent)
            window.bridge.detach()
            window.close()
            core.stop()
            core.db.dispose()

        failed = [r for r in records if not 200 <= r[3] < 300]
        if failed or len(seen) < count:
            raise AssertionError(f"{len(failed)} deliveries refused; {len(seen)} of {count} rows changed")
        latencies = [(seen[pairs[index][0]] - sent) * 1000 for index, sent, _answered, _status in records]
        answered = [(answered - sent) * 1000 for _index, sent, answered, _status in records]
        to_applied = [(applied[pairs[index][0]] - sent) * 1000 for index, sent, _a, _s in records]
        stall = longest_gap_ms(ticks, first_sent, last_seen + 0.05)

        bare = BareServer().start()
        try:
            process, queue = _send(Target(LOOPBACK, bare.port, bare.path, secret), [key for _, key in pairs])
            bare_records = queue.get(timeout=count / RATE + 60)
            process.join(10)
        finally:
            bare.stop()
        bare_latencies = [(answered - sent) * 1000 for _index, sent, answered, _status in bare_records]
    finally:
        sandbox.stop()
    return {
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
        "http_p50_ms": percentile(answered, 50), "http_p99_ms": percentile(answered, 99),
        "applied_p50_ms": percentile(to_applied, 50), "applied_p99_ms": percentile(to_applied, 99),
        "stall_ms": stall, "bare_p50_ms": percentile(bare_latencies, 50),
        "bare_p99_ms": percentile(bare_latencies, 99),
    }
