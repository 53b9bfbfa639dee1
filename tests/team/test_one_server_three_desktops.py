"""End to end on a real PostgreSQL: one server process holds the Codat key, receives Codat's webhooks and sends
what desktops ask for; three team desktops (no Codat key; one in a real MainWindow, offscreen) share the
database. Two desktops ask for pushes at once; the server sends each expense once; every desktop sees every
change; the window's desktop, cut off from the database meanwhile, catches up when the network is back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import make_url

from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.engine.core import Core
from codatdesk.events import ExpenseChanged
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database
from codatdesk.team.desktop import TeamDesktopCore
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started
from tests.team.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
ROWS = 12
# A desktop cut off from the database keeps every thread alive (the applier died in its parked sweep).
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


class LatestStatus:
    """Each expense's newest status as one desktop's bus told it."""

    def __init__(self, core: Core) -> None:
        self.status: dict[int, ExpenseStatus | None] = {}
        self._lock = threading.Lock()
        core.bus.subscribe(self)

    def __call__(self, event) -> None:
        if isinstance(event, ExpenseChanged):
            with self._lock:
                self.status[event.expense_id] = event.new

    def all_complete(self, ids: list[int]) -> bool:
        with self._lock:
            return all(self.status.get(i) is ExpenseStatus.COMPLETE for i in ids)


def desktop(folder: Path, database: str, h) -> TeamDesktopCore:
    """A team desktop: no Codat key, no listener; its pushes are requests the server claims and sends."""
    folder.mkdir()
    settings = Settings(folder / "settings.json", environ={})
    settings.update({"codat.company_id": h.company_id})
    return TeamDesktopCore(settings, open_database(database))


@pytest.fixture
def server_process(pg_url, tmp_path):
    processes = []

    def start(h) -> str:
        secret_file = tmp_path / "server-secret"
        secret_file.write_text("")
        config = {"dir": str(tmp_path / "server"), "database": pg_url, "base_url": h.server.base_url,
                  "api_key": h.sandbox.api_key, "company_id": h.company_id, "connection_id": h.connection_id,
                  "secret_file": str(secret_file)}
        (tmp_path / "server").mkdir()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("team_server.py")), json.dumps(config)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        processes.append(process)
        url = process.stdout.readline().strip()
        assert url.startswith("http"), "the server did not start"
        consumer = h.sandbox.add_webhook_consumer(url, DEMO_EVENT_TYPES)
        secret_file.write_text(h.sandbox.consumer_secret(consumer["id"]))
        return url

    yield start
    for process in processes:
        process.stdin.close()
        process.wait(timeout=30)


def test_two_desktops_ask_at_once_the_server_sends_and_every_desktop_sees_every_change(pg_url, tmp_path, qtbot, server_process):
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    open_database(pg_url).dispose()  # migrated once, before anyone connects
    with started(tmp_path, push_delay=0.3, seed=1) as h:
        server_process(h)
        url = make_url(pg_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        behind_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        a, b = desktop(tmp_path / "a", pg_url, h), desktop(tmp_path / "b", pg_url, h)
        c = desktop(tmp_path / "c", behind_proxy, h)
        cores = [a, b, c]
        try:
            a.set_company(h.company_id, h.connection_id, name="Test Co")
            for core in cores:
                core.start()
            seen = {name: LatestStatus(core) for name, core in zip("abc", cores, strict=True)}
            window = MainWindow(c, ui_state=UiState(tmp_path / "ui.ini"))
            window._confirmed_close = True
            qtbot.addWidget(window)
            window.show()
            wait_until(lambda: c.change_feed.connected.is_set(), message="desktop c listening")

            h.core = a  # Harness's import and supplier mapping, on desktop a
            h.import_rows([row(i) for i in range(ROWS)])
            ids = [e.id for e in expenses(a)]
            wait_until(lambda: len(window.model.ids()) == ROWS, message="the import in c's window")

            proxy.cut()  # c's network goes; a and b ask for pushes meanwhile
            wait_until(lambda: not c.change_feed.connected.is_set(), message="c noticing")
            asked = [a.push(ids[: ROWS // 2]), b.push(ids[ROWS // 2:])]
            assert [batch.problems for batch in asked] == [[], []]
            try:
                wait_until(lambda: seen["a"].all_complete(ids) and seen["b"].all_complete(ids), timeout=60,
                           message="both pushing desktops seeing every result (their own and the other's)")
            except AssertionError as exc:  # say where it stopped
                raise AssertionError(f"{exc}; a heard {seen['a'].status}, b heard {seen['b'].status}, the store has "
                                     f"{[(e.id, e.status, e.status_detail) for e in expenses(a)]}") from None
            assert all(window.model.row_for_id(i).status is ExpenseStatus.NOT_PUSHED for i in ids)

            proxy.restore()
            wait_until(lambda: seen["c"].all_complete(ids), timeout=30, message="c catching up")
            wait_until(lambda: all(window.model.row_for_id(i).status is ExpenseStatus.COMPLETE for i in ids),
                       message="c's table showing every push complete")
            assert all(e.status == ExpenseStatus.COMPLETE for e in expenses(a))
            # Only the server sent, each expense once (the desktops hold no Codat key).
            posted = [op for op in h.sandbox.push_operations.values() if op["dataType"] == "directCosts"]
            assert len(posted) == ROWS, h.sandbox.push_operations
        finally:
            h.core = None
            for core in cores:
                core.stop()
                core.db.dispose()
            proxy.close()
