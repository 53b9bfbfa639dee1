"""Team mode on PostgreSQL, the hard way: SIGKILL the server mid-batch again and again, and fail over
between two server processes under load. Afterwards every requested expense was sent at most once
(one directCosts push per reference in the sandbox, one ledger entry each) and none is lost.

The servers are tests/team/team_server_driver.py subprocesses; the sandbox (Codat) runs in this
process so it survives the kills; the desktops' requests are written here, as a desktop writes them.
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
from pathlib import Path

import pytest
from sqlmodel import Session, select

from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.importer import import_file
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import open_database
from codatdesk.store.models import Expense, PushAttempt, PushRequest
from codatdesk.team import requests
from tests.conftest import wait_until
from tests.engine_harness import HEADER, row
from tests.reliability.support import free_port, new_secret, sized

pytestmark = pytest.mark.reliability

ROUNDS = sized(4, 20)
PUSHES = sized(40, 200)
DRIVER = Path(__file__).with_name("team_server_driver.py")
REPO = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), str(data_dir), database_url], env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

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
        raise AssertionError(f"server never printed {prefix!r}; output: {self.output[-20:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.wait_for("stopped", 30)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait(10)


class Team:
    """A sandbox, a shared database with PUSHES expenses, and data folders for server processes."""

    def __init__(self, tmp_path: Path, pg_url: str) -> None:
        self.tmp = tmp_path
        self.url = pg_url
        self.sandbox = Sandbox(SandboxConfig(push_delay=0.3, latency=0.03, seed=7))
        self.server = SandboxServer(self.sandbox).start()
        self.secret = new_secret(b"team-crash-signing-secret")
        self.db = open_database(pg_url)
        csv = tmp_path / "pushes.csv"
        csv.write_text(HEADER + "".join(row(i, supplier="Staples") + "\n" for i in range(PUSHES)), encoding="utf-8")
        assert import_file(self.db, csv, self.sandbox.company_id).ok
        self.processes: list[ServerProcess] = []

    def data_dir(self, name: str) -> tuple[Path, dict[str, str]]:
        """A server's folder and environment, listening on its own port (a consumer of its own)."""
        port = free_port()
        self.sandbox.add_webhook_consumer(f"http://127.0.0.1:{port}/webhooks/codat", DEMO_EVENT_TYPES,
                                          secret=self.secret)
        folder = self.tmp / name
        folder.mkdir()
        (folder / "settings.json").write_text(json.dumps({
            "codat.base_url": self.server.base_url, "codat.company_id": self.sandbox.company_id,
            "codat.connection_id": self.sandbox.connection_id, "listener.port": port,
            "reconcile.interval_seconds": 5, "reconcile.threshold_seconds": 0}), encoding="utf-8")
        env = {**os.environ, "CODATDESK_HOME": str(folder), "CODATDESK_API_KEY": self.sandbox.api_key,
               "CODATDESK_WEBHOOK_SECRETS": self.secret, "PYTHONPATH": str(REPO)}
        return folder, env

    def start(self, folder: Path, env: dict[str, str]) -> ServerProcess:
        process = ServerProcess(folder, self.url, env)
        self.processes.append(process)
        process.wait_for("listening")
        return process

    def request(self, ids: list[int] | None = None, actor: str = "alice") -> int:
        """A desktop presses Push on every row that is not pushed (or on ``ids``)."""
        if ids is None:
            with Session(self.db) as session:
                ids = list(session.exec(select(Expense.id).where(Expense.status == S.NOT_PUSHED)))
        return len(requests.request_push(self.db, ids, actor).queued)

    def directcost_pushes(self) -> int:
        return sum(op["dataType"] == "directCosts" for op in self.sandbox.push_operations.values())

    def settle(self, timeout: float = 120) -> None:
        """Keep pressing Push (a row refused while an answer was being recovered comes back) until every
        row is complete."""
        seen: list[object] = []

        def done() -> bool:
            with Session(self.db) as session:
                rows = list(session.exec(select(Expense)))
            statuses = Counter(S(e.status) for e in rows)
            seen[:] = [statuses, [(e.id, e.status, e.status_detail) for e in rows if e.status != S.COMPLETE][:5]]
            if statuses.get(S.NOT_PUSHED):
                self.request()
            return statuses == Counter({S.COMPLETE: PUSHES})

        try:
            wait_until(done, timeout, interval=0.5, message="every requested row complete")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {seen}") from None

    def check_sent_at_most_once(self) -> None:
        references = Counter()
        for op in self.sandbox.state.push_operations.values():
            if op.data_type == "directCosts":
                references[op.body.get("reference")] += 1
        assert not [r for r, n in references.items() if n > 1], f"pushed twice: {references.most_common(3)}"
        ledger = Counter(cost.get("reference") for cost in self.sandbox.ledger(self.sandbox.company_id))
        assert len(ledger) == PUSHES and max(ledger.values()) == 1
        with Session(self.db) as session:
            open_attempts = session.exec(select(PushAttempt).where(PushAttempt.outcome.in_(("sending", "unknown"))))
            assert not list(open_attempts)
            left = session.exec(select(PushRequest).where(PushRequest.state.in_(("queued", "claimed")))).all()
            assert not left, f"requests never finished: {left[:3]}"

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.db.dispose()
        self.server.stop()
        self.sandbox.shutdown()


@pytest.fixture
def team(tmp_path, pg_url):
    t = Team(tmp_path, pg_url)
    yield t
    t.close()


def test_sigkill_the_server_mid_batch(team):
    rng = random.Random(int(os.environ.get("CODATDESK_CRASH_SEED", "20261201")))
    folder, env = team.data_dir("server")
    assert team.request() == PUSHES
    kills = []
    for round_number in range(ROUNDS):
        server = team.start(folder, env)
        server.wait_for("active")
        before = team.directcost_pushes()
        step = max(1, (PUSHES - before) // (ROUNDS - round_number + 1))
        target = min(PUSHES, before + rng.randint(1, 2 * step))
        deadline = time.monotonic() + 20
        while team.directcost_pushes() < target and time.monotonic() < deadline and server.proc.poll() is None:
            time.sleep(0.005)  # polling the sandbox for the kill point, not waiting for an outcome
        assert server.proc.poll() is None, f"the server died by itself: {server.output[-20:]}"
        server.kill()
        kills.append((target, team.directcost_pushes()))
        if round_number % 2:  # sometimes a desktop presses Push again while the server is down
            team.request()
    last = team.start(folder, env)
    last.wait_for("active")
    team.settle()
    assert team.sandbox.wait_idle(30)
    team.check_sent_at_most_once()
    print("kills (target, pushes at kill):", kills)


def test_failover_between_two_servers_under_load(team):
    first_dir, first_env = team.data_dir("first")
    second_dir, second_env = team.data_dir("second")
    first = team.start(first_dir, first_env)
    first.wait_for("active")
    second = team.start(second_dir, second_env)
    half = PUSHES // 2
    with Session(team.db) as session:
        ids = list(session.exec(select(Expense.id).order_by(Expense.id)))
    assert team.request(ids[:half]) == half
    wait_until(lambda: team.directcost_pushes() >= half // 3, 30, message="the first server sending")
    first.kill()
    killed_at = time.monotonic()
    second.wait_for("active", 15)
    took_over = time.monotonic() - killed_at
    assert team.request(ids[half:], actor="bob") == PUSHES - half  # under load: more arrive during the switch
    team.settle()
    assert team.sandbox.wait_idle(30)
    team.check_sent_at_most_once()
    assert took_over < 10, f"the standby took {took_over:.1f} s to take over"
    print(f"failover: the standby was active {took_over:.2f} s after the kill")
