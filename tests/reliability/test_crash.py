"""Crash: SIGKILL the app at random points during a webhook storm and a push batch, restart, repeat.

The app is tests/reliability/crash_driver.py (a Core with listener, push engine and
reconciliation, pushing every row not pushed yet) in a subprocess; the Codat sandbox
runs in this process so it survives the kills. Afterwards: every delivery that got a
2xx is stored once and applied exactly once, no push was sent twice (one push per
expense in the sandbox, no duplicate reference in its ledger), and the database
passes ``PRAGMA integrity_check`` after every kill.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.importer import import_file
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import open_database
from codatdesk.store.models import Expense, PushAttempt, StatusChange, WebhookDelivery
from tests.conftest import wait_until
from tests.engine_harness import HEADER, row
from tests.reliability.support import (
    REGISTRY,
    Stopwatch,
    free_port,
    integrity_check,
    new_secret,
    report,
    seed_expenses,
    sign,
    sized,
    write_event,
)

pytestmark = pytest.mark.reliability

ROUNDS = sized(3, 20)
PUSHES = sized(40, 200)
STORM_EXPENSES = sized(60, 400)
DRIVER = Path(__file__).with_name("crash_driver.py")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Entry:
    msg_id: str
    body: bytes
    acked: int = 0
    arrives: int = 0  # the round from which Codat sends it (each run of the app gets its own storm)


class App:
    """The driver subprocess: start, wait for its listener, SIGKILL or stop."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), str(data_dir), *args], env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.output: list[str] = []

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip())

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"driver never printed {prefix!r}; output: {self.output[-20:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.wait_for("stopped", 20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)


def storm(url: str, entries: list[Entry], secret: str, stop: threading.Event, senders: int = 8) -> None:
    """Send every entry not yet acknowledged, again and again (as Codat retries), until ``stop``."""
    lock = threading.Lock()
    rng = random.Random()

    def worker() -> None:
        with httpx.Client(timeout=5, trust_env=False) as client:
            while not stop.is_set():
                with lock:
                    waiting = [e for e in entries if not e.acked]
                if not waiting:
                    return
                entry = rng.choice(waiting)
                try:
                    response = client.post(url, content=entry.body, headers=sign(secret, entry.msg_id, entry.body))
                except httpx.HTTPError:
                    stop.wait(0.05)  # the app is down: back off a little, as a sender would
                    continue
                assert response.status_code < 500 or response.status_code == 503, response.status_code
                if response.status_code == 200:
                    with lock:
                        entry.acked += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_crash_and_restart(data_dir, tmp_path):
    watch = Stopwatch()
    rng = random.Random(int(os.environ.get("CODATDESK_CRASH_SEED", "20261128")))
    secret = REGISTRY.secret(new_secret(b"crash-suite-signing-secret"))
    port = free_port()

    sandbox = Sandbox(SandboxConfig(push_delay=0.3, latency=0.03, seed=5, retry_schedule=(0, 0.3, 1.0, 2.0, 4.0)))
    server = SandboxServer(sandbox).start()
    REGISTRY.secret(sandbox.api_key)
    sandbox.add_webhook_consumer(f"http://127.0.0.1:{port}/webhooks/codat", DEMO_EVENT_TYPES, secret=secret)
    try:
        (data_dir / "settings.json").write_text(json.dumps({
            "codat.base_url": server.base_url, "codat.company_id": sandbox.company_id,
            "codat.connection_id": sandbox.connection_id, "listener.port": port,
            "reconcile.interval_seconds": 5, "reconcile.threshold_seconds": 0}), encoding="utf-8")
        env = {**os.environ, "CODATDESK_HOME": str(data_dir), "CODATDESK_API_KEY": sandbox.api_key,
               "CODATDESK_WEBHOOK_SECRETS": secret, "PYTHONPATH": str(REPO)}
        db_path = data_dir / "codatdesk.sqlite3"
        db = open_database(f"sqlite:///{db_path}")

        # Rows to push, and rows in progress whose results arrive as a storm.
        csv = tmp_path / "pushes.csv"
        # A supplier the ledger knows: an unknown one is blocked before sending (#12).
        csv.write_text(HEADER + "".join(row(i, supplier="Staples") + "\n" for i in range(PUSHES)), encoding="utf-8")
        assert import_file(db, csv, sandbox.company_id).ok
        specs = [{"key": f"crash-key-{i:05d}"} for i in range(STORM_EXPENSES)]
        storm_ids = seed_expenses(db, sandbox.company_id, specs)
        truth: dict[int, S] = {}
        entries: list[Entry] = []
        for expense_id, spec in zip(storm_ids, specs):
            status = rng.choice(["Success", "Failed"])
            truth[expense_id] = S.COMPLETE if status == "Success" else S.FAILED
            body = write_event(spec["key"], status, f"evt-{spec['key']}")
            entries.append(Entry(f"msg_{spec['key']}", body))
            if rng.random() < 0.25:  # the same event from a second consumer, under another id
                entries.append(Entry(f"msg_{spec['key']}_b", body))
        for original in rng.sample(entries, len(entries) // 5):  # duplicates: one entry per redelivery
            entries.append(Entry(original.msg_id, original.body))
        for entry in entries:
            entry.arrives = rng.randrange(ROUNDS)
        db.dispose()

        kills = []
        for round_number in range(ROUNDS):
            app = App(data_dir, env)
            app.wait_for("listening")
            stop = threading.Event()
            arrived = [e for e in entries if e.arrives <= round_number]
            sender = threading.Thread(target=storm, args=(f"http://127.0.0.1:{port}/webhooks/codat", arrived, secret,
                                                          stop))
            sender.start()
            # A random kill point: after some more deliveries were acknowledged, or some more pushes reached Codat.
            acked_before = sum(e.acked > 0 for e in arrived)
            pushes_before = len(sandbox.push_operations)
            storm_left = acked_before < len(arrived)
            rounds_left = ROUNDS - round_number
            if pushes_before < PUSHES and (not storm_left or rng.random() < 0.5):
                step = max(1, (PUSHES - pushes_before) // rounds_left)
                target, what = min(PUSHES, pushes_before + rng.randint(1, 2 * step)), "pushes"
                condition = lambda target=target: len(sandbox.push_operations) >= target  # noqa: E731
            elif storm_left:
                target, what = acked_before + rng.randint(1, len(arrived) - acked_before), "deliveries"
                condition = lambda target=target, arrived=arrived: sum(e.acked > 0 for e in arrived) >= target  # noqa: E731
            else:  # nothing left to interrupt: kill it as soon as it listens
                target, what, condition = 0, "start", (lambda: True)
            deadline = time.monotonic() + 10
            while not condition() and time.monotonic() < deadline and app.proc.poll() is None:
                stop.wait(0.005)
            assert app.proc.poll() is None, f"the app died by itself: {app.output[-20:]}"
            app.kill()
            stop.set()
            sender.join(10)
            kills.append((what, target, len(sandbox.push_operations), sum(e.acked > 0 for e in entries)))
            assert integrity_check(db_path) == "ok", f"integrity check failed after kill {round_number + 1}"

        # Last start: the user keeps pressing Push until nothing is left unsent; the storm is re-sent until acked.
        app = App(data_dir, env, "--until-done")
        app.wait_for("listening")
        stop = threading.Event()
        sender = threading.Thread(target=storm, args=(f"http://127.0.0.1:{port}/webhooks/codat", entries, secret, stop))
        sender.start()
        db = open_database(f"sqlite:///{db_path}")

        def settled() -> bool:
            with Session(db) as session:
                expenses = session.exec(select(Expense)).all()
            return all(e.acked for e in entries) and all(S(e.status).is_final for e in expenses)

        try:
            wait_until(settled, 120, interval=0.1, message="every row final after the last restart")
            assert sandbox.wait_idle(30)
        finally:
            stop.set()
            sender.join(10)
            app.stop()
        assert integrity_check(db_path) == "ok"

        # No push sent twice: one push operation per expense reference, one ledger entry per reference.
        references = Counter()
        for op in sandbox.push_operations.values():
            if op["dataType"] == "directCosts":
                references[sandbox.state.push_operations[op["pushOperationKey"]].body.get("reference")] += 1
        twice = [ref for ref, n in references.items() if n > 1]
        if twice:
            print([(op.body.get("reference"), op.requested_on, op.key) for op in sandbox.state.push_operations.values()
                   if op.body.get("reference") in twice])
        assert not twice, f"pushed twice: {references.most_common(3)}"
        ledger = Counter(cost.get("reference") for cost in sandbox.ledger(sandbox.company_id))
        assert not [ref for ref, n in ledger.items() if n > 1]
        assert len(ledger) == PUSHES

        with Session(db) as session:
            open_attempts = session.exec(select(PushAttempt).where(PushAttempt.outcome.in_(("sending", "unknown")))).all()
            expenses = {e.id: e for e in session.exec(select(Expense))}
            rows = {r.delivery_id: r for r in session.exec(select(WebhookDelivery))}
            webhook_changes = session.exec(select(StatusChange).where(StatusChange.cause_kind == "webhook")).all()
        db.dispose()
        assert not open_attempts, f"push attempts whose outcome nobody settled: {open_attempts}"
        # Every row in its true state: pushed ones complete, storm ones as their event says.
        for expense_id, expense in expenses.items():
            expected = truth.get(expense_id, S.COMPLETE)
            assert S(expense.status) is expected, (expense_id, expense.status, expense.status_detail)
        # A green row's push key names the push of that very row (no adoption mix-ups after a crash).
        operations = sandbox.state.push_operations
        for expense_id, expense in expenses.items():
            if expense_id not in truth:
                assert operations[expense.push_operation_key].body.get("reference") == expense.reference, expense_id
        # Every acknowledged delivery stored once (times_received counts its 2xx and unanswered stores).
        acked = Counter()
        for entry in entries:
            acked[entry.msg_id] += entry.acked
        assert set(rows) >= {msg_id for msg_id, n in acked.items() if n}
        for msg_id, n in acked.items():
            assert rows[msg_id].times_received >= n
            assert rows[msg_id].verdict in ("applied", "stale"), (msg_id, rows[msg_id].verdict)
        # Applied exactly once: one webhook status change per storm expense and per applied delivery.
        by_delivery = Counter(c.cause_ref for c in webhook_changes)
        assert max(by_delivery.values()) == 1
        assert set(by_delivery) == {r.delivery_id for r in rows.values() if r.verdict == "applied"}
        storm_changes = Counter(c.expense_id for c in webhook_changes if c.expense_id in truth)
        assert storm_changes == Counter(dict.fromkeys(truth, 1))

        report("crash", rounds=ROUNDS, pushes=PUSHES, storm_expenses=STORM_EXPENSES, deliveries=len(entries),
               kills=kills, seconds=round(watch.seconds, 1), result="passed")
    finally:
        server.stop()
        sandbox.shutdown()
