"""Shared fixtures. Every test runs with its own data dir and an in-memory keyring."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
import keyring.backend
import pytest


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring so tests never touch (or need) a real one.

    Set ``fail_with`` to an exception to make every call raise (an unusable keyring).
    """

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}
        self.fail_with: Exception | None = None

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture(autouse=True)
def memory_keyring(request):
    if request.node.get_closest_marker("realkeyring"):
        yield None
        return
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def root_logging():
    """A test that runs ``codatdesk.cli.main`` in-process configures logging (a stream handler on the
    stderr pytest captures, a file in that test's folder): undo it, so no later test logs to a closed stream."""
    import logging

    root = logging.getLogger()
    handlers, level, configured = list(root.handlers), root.level, getattr(root, "_codatdesk_configured", False)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    root._codatdesk_configured = configured  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    from codatdesk import paths

    home = tmp_path / "codatdesk-home"
    monkeypatch.setenv("CODATDESK_HOME", str(home))
    for name in ("CODATDESK_API_KEY", "CODATDESK_WEBHOOK_SECRETS", "CODATDESK_WEBHOOK_BASIC",
                 "CODATDESK_WEBHOOK_BEARER"):
        monkeypatch.delenv(name, raising=False)
    paths.set_data_dir(None)
    return home


@pytest.fixture
def db(tmp_path):
    from codatdesk.store.db import open_database

    engine = open_database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    yield engine
    engine.dispose()


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01,
               message: str = "condition") -> object:
    """The suite's one way to wait: poll ``predicate`` until it is truthy; fail the test after ``timeout`` s.

    With a Qt application running, each poll first delivers its queued events (signals from
    worker threads, timers), so the same helper serves UI tests. Never used to prove that
    something did not happen: such a test checks that nothing was scheduled instead.
    """
    qt = sys.modules.get("PySide6.QtCore")  # only if the test loaded Qt: this module stays Qt-free
    app = qt.QCoreApplication.instance() if qt is not None else None
    deadline = time.monotonic() + timeout
    while True:
        if app is not None:
            app.processEvents()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def harness(tmp_path):
    """A sandbox on loopback and a Harness to start a Core against it (tests/engine_harness.py).
    A test module that needs other sandbox settings defines its own with ``started(...)``."""
    from tests.engine_harness import started

    with started(tmp_path, push_delay=0.05, seed=1) as h:
        yield h


# -- a real PostgreSQL (team mode): tests/pg_server.py ------------------------------------------------------------
_PG_UNAVAILABLE: list[str] = []  # why PostgreSQL could not be had, for the run's summary


@pytest.fixture(scope="session")
def pg_server():
    """The SQLAlchemy URL of a PostgreSQL server's admin database: $CODATDESK_TEST_PG, else one started here."""
    from tests import pg_server as pg

    if os.environ.get(pg.ENV_URL):
        yield pg.sqlalchemy_url(os.environ[pg.ENV_URL])
        return
    bindir = pg.find_bindir()
    if bindir is None:
        _PG_UNAVAILABLE.append(f"no PostgreSQL binaries found and {pg.ENV_URL} is not set")
        pytest.skip(_PG_UNAVAILABLE[-1])
    server = pg.TempPostgres(bindir)
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported in the summary, then skipped
        server.stop()
        _PG_UNAVAILABLE.append(f"PostgreSQL did not start: {exc}")
        pytest.skip(_PG_UNAVAILABLE[-1])
    yield server.url
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    from tests import pg_server as pg

    url = pg.create_database(pg_server)
    yield url
    pg.drop_database(pg_server, url)


def pytest_terminal_summary(terminalreporter):
    if _PG_UNAVAILABLE:
        terminalreporter.write_sep("!", "PostgreSQL tests were SKIPPED", red=True)
        terminalreporter.write_line(f"{_PG_UNAVAILABLE[0]}: team-mode tests did not run (set {'CODATDESK_TEST_PG'} "
                                    "or install PostgreSQL)")
