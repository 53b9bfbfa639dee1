"""B7 — team mode live: a delivery at the team's server to ``dataChanged`` on every desktop.

One server process (``tests/team/team_server.py``: a Core on PostgreSQL with the webhook listener) and
three desktop processes (``benchmarks/b7_desktop.py``: what a desktop runs in team mode, a
``TeamDesktopCore`` in a real ``MainWindow``, offscreen and shown), each showing the same N expenses, all
"Push in progress" with a stored key. A sender process posts one signed ``directCosts.write.successful``
per key to the server at 200/s (open loop over SENDERS connections, so a slow answer does not slow the
schedule; ``sent_per_s`` says the rate reached). The server stores and applies it; the change feed
(``codatdesk/team/change_feed.py``: change_log + NOTIFY) carries it to each desktop's bus, bridge,
coalescer and model. Latency = from the sender starting to send a delivery to the *last* of the three
desktops emitting ``dataChanged`` for that row (CLOCK_MONOTONIC is shared by the processes). Stages:
``http`` (the server answered: stored durably), ``server`` (applied and published there), ``bus`` (on
every desktop's bus). Stall: the longest gap of a 5 ms timer on any desktop's GUI thread.

All of it shares this machine's cores: the server, PostgreSQL, the sender and three desktops that would
each have their own computer.

Alternative, in the same run: the single-user path, one Core on SQLite with its own listener and one
window over the same N rows, under the same sender (B1's path, at B7's size), in this process.

Server push throughput, PostgreSQL against SQLite: the team's server sends what desktops ask for through
the ordinary push engine, now on PostgreSQL. N direct-cost pushes (``core.push``) against a sandbox with
Codat's 10-concurrent limit and 50 ms per request (as B3), once with the store on PostgreSQL and once on
SQLite; pushes/s = N / time until every POST is answered and its key stored. Bounded: 120 s per store.

PostgreSQL: ``$CODATDESK_TEST_PG``, else a throwaway server from the installed binaries (tests/pg_server.py).
Knobs for looking closer (not for the report): ``B7_DESKTOPS``, ``B7_SENDERS``, ``B7_SKIP_PUSH=1``, and
``B7_TRACE=1`` (each desktop prints its longest GUI gaps and its refreshes' cost on stderr; ``=2``: what ran in them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

from benchmarks import b7_applier
from benchmarks.common import REPO, Row, gui_heartbeat, longest_gap_ms, note_rows_complete, percentile, scratch_dir
from benchmarks.load import LOOPBACK, Target, paced_sender, spawn

RATE = 200.0
SIZES = {"full": (10_000, 2000), "mid": (10_000, 400), "smoke": (200, 20)}  # (rows each desktop shows, deliveries sent)
PUSHES = {"full": 500, "mid": 300, "smoke": 20}
PUSH_LATENCY, PUSH_LIMIT = 0.05, 10  # the sandbox's added latency per request, Codat's concurrent limit
DESKTOPS = int(os.environ.get("B7_DESKTOPS", "3"))
# Connections the sender spreads the schedule over: each waits for its answer before its next send, so
# 200/s with answers up to ~200 ms needs about 40 (Codat's deliveries, too, come over many connections).
SENDERS = int(os.environ.get("B7_SENDERS", "48"))

SPEC = [
    Row("B7", "team: delivery → row on every desktop, p50", "p50_ms", "ms", "—", None, "solo_p50_ms",
        "single-user SQLite p50", "fig/alt", None, decimals=1),
    Row("B7", "team: delivery → row on every desktop, p99", "p99_ms", "ms", "≤ 250 ms", lambda v: v <= 250,
        "solo_p99_ms", "single-user SQLite p99", "fig/alt", None, decimals=1),
    Row("B7", "team: longest GUI-thread stall (worst desktop)", "stall_ms", "ms", "≤ 50 ms",
        lambda v: v <= 50, "solo_stall_ms", "single-user stall", "fig/alt", None, decimals=1),
    Row("B7", "server: applier batch of 14 beside a busy thread, 1 ms switch interval", "applier_busy_ms", "ms",
        "—", None, "applier_busy_default_ms", "at CPython's 5 ms", "alt/fig", None, decimals=1),
]


@contextmanager
def postgres():
    """The SQLAlchemy URL of a fresh database on a PostgreSQL server (dropped afterwards)."""
    sys.path.insert(0, str(REPO))
    from tests import pg_server as pg

    server = None
    if os.environ.get(pg.ENV_URL):
        admin = pg.sqlalchemy_url(os.environ[pg.ENV_URL])
    else:
        bindir = pg.find_bindir()
        if bindir is None:
            raise RuntimeError(f"B7 needs PostgreSQL: set {pg.ENV_URL} or install it")
        server = pg.TempPostgres(bindir).start()
        admin = server.url
    url = pg.create_database(admin, prefix="codatdesk_b7")
    try:
        yield url
    finally:
        pg.drop_database(admin, url)
        if server is not None:
            server.stop()


@contextmanager
def team_server(home, database: str, sandbox, secret: str):
    secret_file = home / "server-secret"
    secret_file.write_text(secret)
    (home / "server").mkdir()
    config = {"dir": str(home / "server"), "database": database, "base_url": sandbox.base_url,
              "api_key": sandbox.api_key, "company_id": sandbox.company_id, "connection_id": sandbox.connection_id,
              "secret_file": str(secret_file), "trace_file": str(home / "server-applied.json")}
    env = dict(os.environ, PYTHONPATH=str(REPO), CODATDESK_HOME=str(home / "server"))
    process = subprocess.Popen([sys.executable, str(REPO / "tests" / "team" / "team_server.py"), json.dumps(config)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the team server did not start")
        yield url
    finally:
        process.stdin.close()
        process.wait(60)


def _measure(app, windows, target: Target, pairs, count: int) -> tuple[list[float], list[float], float, list]:
    """Send ``count`` deliveries; per delivery, ms until every window's model showed its row complete, and ms
    until every desktop's bus had the change (the feed's share, before the bridge and the model)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from codatdesk.states import ExpenseStatus

    seen: list[dict[int, float]] = [{} for _ in windows]
    heard: list[dict[int, float]] = [{} for _ in windows]
    for window, marks in zip(windows, heard, strict=True):
        def on_event(event, marks=marks) -> None:
            if getattr(event, "new", None) is ExpenseStatus.COMPLETE:
                marks.setdefault(event.expense_id, time.monotonic())

        window.core.bus.subscribe(on_event)
    for window, marks in zip(windows, seen, strict=True):
        note_rows_complete(window.model, marks)
    ticks: list[float] = []
    heartbeat = gui_heartbeat(ticks)
    keys = [key for _, key in pairs[:count]]
    process, queue = spawn(paced_sender, target, keys, RATE, time.monotonic() + 1.5, SENDERS)
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(20)
    give_up = time.monotonic() + 1.5 + count / RATE + 60
    check.timeout.connect(lambda: (all(len(m) >= count for m in seen) or time.monotonic() > give_up) and loop.quit())
    check.start()
    loop.exec()
    heartbeat.stop()
    records = queue.get(timeout=60)
    process.join(10)
    failed = [r for r in records if not 200 <= r[3] < 300]
    shown = [len(m) for m in seen]
    if failed or min(shown) < count:
        raise AssertionError(f"{len(failed)} deliveries refused; rows changed per desktop: {shown} of {count}; "
                             f"heard on each bus: {[len(m) for m in heard]}")
    latencies = [(max(m[pairs[index][0]] for m in seen) - sent) * 1000 for index, sent, _a, _s in records]
    to_bus = [(max(m[pairs[index][0]] for m in heard) - sent) * 1000 for index, sent, _a, _s in records]
    first_sent, last_seen = records[0][1], max(max(m.values()) for m in seen)
    stall = longest_gap_ms(ticks, first_sent, last_seen + 0.05)
    return latencies, to_bus, stall, records


def _show(app, core, rows: int):
    from codatdesk.ui.main_window import MainWindow

    window = MainWindow(core)
    window.resize(1280, 800)
    window.show()
    deadline = time.monotonic() + 120
    while window.model.rowCount() < rows and time.monotonic() < deadline:
        app.processEvents()
    return window


def settle() -> None:
    from codatdesk.heap import settle_after_start

    settle_after_start()  # as run_gui does once the table is loaded (and B1 here)


def _close(windows, cores) -> None:
    for window in windows:
        window.bridge.detach()
        window.close()
    for core in cores:
        core.stop()
        core.db.dispose()


def _desktops(home, database: str, company_id: str, rows: int, count: int):
    """DESKTOPS desktop processes (benchmarks/b7_desktop.py), each showing the seeded rows; yields them ready."""
    processes = []
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for n in range(DESKTOPS):
        folder = home / f"desktop-{n}"
        folder.mkdir()
        config = {"dir": str(folder), "database": database, "company_id": company_id, "rows": rows,
                  "count": count, "rate": RATE}
        processes.append(subprocess.Popen([sys.executable, "-m", "benchmarks.b7_desktop", json.dumps(config)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                          env=dict(env, CODATDESK_HOME=str(folder)), cwd=REPO))
    for process in processes:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a desktop did not start")
    return processes


def _team(home, sandbox, rows: int, count: int) -> dict[str, list[float] | float]:
    from benchmarks.setup import new_secret, seed_expenses
    from codatdesk.states import ExpenseStatus
    from codatdesk.store.db import open_database

    secret = new_secret()
    with postgres() as database, team_server(home, database, sandbox, secret) as url:
        db = open_database(database)
        pairs = seed_expenses(db, sandbox.company_id, rows, status=ExpenseStatus.IN_PROGRESS,
                              connection_id=sandbox.connection_id)
        db.dispose()
        desktops = _desktops(home, database, sandbox.company_id, rows, count)
        try:
            port = int(url.split(":")[2].split("/")[0])
            target = Target(LOOPBACK, port, "/webhooks/codat", secret, sandbox.company_id, sandbox.connection_id)
            start_at = time.monotonic() + 1.5
            process, queue = spawn(paced_sender, target, [key for _, key in pairs[:count]], RATE, start_at, SENDERS)
            for desktop in desktops:
                desktop.stdin.write(f"go {start_at!r}\n")
                desktop.stdin.flush()
            seen = [json.loads(desktop.stdout.readline()) for desktop in desktops]
            records = queue.get(timeout=60)
            process.join(10)
        finally:
            for desktop in desktops:
                desktop.stdin.close()
                desktop.wait(60)
    failed = [r for r in records if not 200 <= r[3] < 300]
    shown = [len(s["shown"]) for s in seen]
    if failed or min(shown) < count:
        raise AssertionError(f"{len(failed)} deliveries refused; rows changed per desktop: {shown} of {count}; "
                             f"heard on each bus: {[len(s['heard']) for s in seen]}")
    applied = json.loads((home / "server-applied.json").read_text())
    if os.environ.get("B7_TRACE"):  # where the server's CPU went, per kind of thread
        used = json.loads((home / "server-applied.json.threads").read_text())
        print("server CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1])),
              file=sys.stderr, flush=True)

    def after(marks: list[dict[str, float]]) -> list[float]:
        return [(max(m[str(pairs[index][0])] for m in marks) - sent) * 1000 for index, sent, _a, _s in records]

    sent = [sent for _i, sent, _a, _s in records]
    return {"sent_per_s": (len(sent) - 1) / (max(sent) - min(sent)), "latencies": after([s["shown"] for s in seen]), "to_bus": after([s["heard"] for s in seen]),
            "at_server": after([applied]), "answered": [(answered - sent) * 1000 for _i, sent, answered, _s in records],
            "stall": max(s["stall_ms"] for s in seen)}


def _solo(app, home, sandbox, rows: int, count: int) -> tuple[list[float], list[float], float]:
    from benchmarks.headless import core_for
    from benchmarks.setup import new_secret, seed_expenses
    from codatdesk.states import ExpenseStatus

    secret = new_secret()
    core = core_for(home, sandbox, listen=True, secrets=[secret])
    core.start()
    core.reconciler.wait_for_run(0, 60)
    pairs = seed_expenses(core.db, sandbox.company_id, rows, status=ExpenseStatus.IN_PROGRESS,
                          connection_id=sandbox.connection_id)
    window = _show(app, core, rows)
    settle()
    try:
        port = int(core.listener_url.split(":")[2].split("/")[0])
        target = Target(LOOPBACK, port, core.listener.config.path, secret, sandbox.company_id, sandbox.connection_id)
        latencies, to_bus, stall, _records = _measure(app, [window], target, pairs, count)
        return latencies, to_bus, stall
    finally:
        _close([window], [core])


def _push_rate(home, sandbox, count: int, db=None) -> float:
    """Pushes per second of ``count`` direct costs through the push engine (``db`` None: SQLite)."""
    from benchmarks.headless import core_for
    from benchmarks.setup import ready_to_push

    core = core_for(home, sandbox, listen=False, db=db)
    core.start()
    try:
        ids = ready_to_push(core, sandbox.company_id, count)
        started = time.monotonic()
        batch = core.push(ids)
        if not batch.wait(120):
            raise TimeoutError("the push batch did not finish in 120 s")
        elapsed = time.monotonic() - started
        if batch.sent != count or batch.problems:
            raise AssertionError(f"sent {batch.sent} of {count}; problems: {batch.problems[:3]}")
        return count / elapsed
    finally:
        core.stop()
        core.db.dispose()


def _push_throughput(size: str) -> dict[str, float]:
    from benchmarks.sandbox_proc import RemoteSandbox
    from codatdesk import paths
    from codatdesk.store.db import open_database

    count = PUSHES[size]
    rates: dict[str, float] = {}
    for store in ("sqlite", "postgresql"):
        sandbox = RemoteSandbox.start({"latency": PUSH_LATENCY, "rate_limit_concurrency": PUSH_LIMIT,
                                       "push_delay": 1.0, "seed": 3})
        try:
            with scratch_dir(f"b7-push-{store}") as home:
                paths.set_data_dir(str(home))
                if store == "sqlite":
                    rates[store] = _push_rate(home, sandbox, count)
                else:
                    with postgres() as database:
                        rates[store] = _push_rate(home, sandbox, count, db=open_database(database))
        finally:
            sandbox.stop()
    return {"push_pg_per_s": rates["postgresql"], "push_sqlite_per_s": rates["sqlite"],
            "push_ratio": rates["postgresql"] / rates["sqlite"], "push_n": count,
            "push_ideal_per_s": PUSH_LIMIT / PUSH_LATENCY}


def run(size: str) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from benchmarks.sandbox_proc import RemoteSandbox
    from codatdesk import paths

    rows, count = SIZES[size]
    app = QApplication.instance() or QApplication([])
    sandbox = RemoteSandbox.start({"seed": 1})  # answers connection checks; sends nothing here
    try:
        with scratch_dir("b7-team") as home:
            paths.set_data_dir(str(home))
            team = _team(home, sandbox, rows, count)
        with scratch_dir("b7-solo") as home:
            paths.set_data_dir(str(home))
            solo, solo_bus, solo_stall = _solo(app, home, sandbox, rows, count)
    finally:
        sandbox.stop()
    pushes = {} if os.environ.get("B7_SKIP_PUSH") else _push_throughput(size)
    with postgres() as database:
        applier = b7_applier.measure(database, size)
    latencies, to_bus, at_server, answered = team["latencies"], team["to_bus"], team["at_server"], team["answered"]
    return {**pushes, **applier, "sent_per_s": team["sent_per_s"], "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies), "stall_ms": team["stall"], "http_p50_ms": percentile(answered, 50),
            "http_p99_ms": percentile(answered, 99), "server_p50_ms": percentile(at_server, 50),
            "server_p99_ms": percentile(at_server, 99), "bus_p50_ms": percentile(to_bus, 50),
            "bus_p99_ms": percentile(to_bus, 99), "solo_bus_p50_ms": percentile(solo_bus, 50),
            "solo_p50_ms": percentile(solo, 50), "solo_p99_ms": percentile(solo, 99), "solo_stall_ms": solo_stall}
