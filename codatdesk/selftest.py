"""``codatdesk --self-test``: is this installation (source or PyInstaller bundle) complete and working?

One line per check, ``PASS name: detail``, ``WARN name: detail`` or ``FAIL name: reason``,
then a summary; the exit code is 1 if any check failed. WARN never fails the run: it
marks something outside the installation (the webhook port taken by a running
codatdesk, or a keyring knowingly absent: ``CODATDESK_SELFTEST_ALLOW_NO_KEYRING=1``,
or credentials given as ``CODATDESK_*`` environment variables).

The checks that need a Codat run the built-in sandbox in a temporary data folder, so
the user's expenses, settings and keyring entries are never touched (the keyring
check stores and deletes one probe entry).
"""

from __future__ import annotations

import importlib.metadata
import os
import pkgutil
import platform
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import codatdesk
from codatdesk import __version__, paths

ALLOW_NO_KEYRING_ENV = "CODATDESK_SELFTEST_ALLOW_NO_KEYRING"
# Every file the app opens through paths.resource() (tests/test_selftest.py keeps this in step).
RESOURCES = ("icons/codatdesk.png", "sample-expenses.csv", "examples/expenses-de.csv", "examples/expenses.xlsx",
             "receipts")  # receipts: the demo's folder of sample receipts (a folder: it must not be empty)
# Modules the walk must not import: the entry script would run the app, and Alembic's env.py
# only makes sense inside a migration (the migrations are checked by running them).
SKIP_MODULES = ("codatdesk.__main__", "codatdesk.store.migrations")
# A walk that misses these did not see the whole package (e.g. a bundle's importer without iter_modules).
SENTINEL_MODULES = ("codatdesk.ui.main_window", "codatdesk.webhooks.listener", "codatdesk.sandbox.server",
                    "codatdesk.engine.core", "codatdesk.tunnel.stack")
KEYRING_TIMEOUT = 10.0  # a locked desktop keyring may wait for a password prompt
PUSH_TIMEOUT = 10.0


class CheckFailed(Exception):
    """The check failed; the message is the reason."""


class CheckWarning(Exception):
    """Worth saying, but not a broken installation."""


@dataclass
class Outcome:
    name: str
    verdict: str  # PASS, WARN or FAIL
    detail: str
    seconds: float


@dataclass
class _Demo:
    core: object
    cleanup: Callable[[], None]
    expected_rows: int


class _Run:
    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.outcomes: list[Outcome] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="codatdesk-selftest-"))
        self.demo: _Demo | None = None
        self.demo_error: str | None = None

    def emit(self, line: str) -> None:
        if self.out is not None:
            print(line, file=self.out, flush=True)

    def check(self, name: str, func: Callable[[_Run], str]) -> None:
        started = time.monotonic()
        try:
            verdict, detail = "PASS", func(self)
        except CheckWarning as exc:
            verdict, detail = "WARN", str(exc)
        except CheckFailed as exc:
            verdict, detail = "FAIL", str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of a check is that check's FAIL line
            verdict, detail = "FAIL", _one_line(exc)
        outcome = Outcome(name, verdict, detail, time.monotonic() - started)
        self.outcomes.append(outcome)
        self.emit(f"{verdict} {name}: {detail}")


def run_self_test(*, out: TextIO | None = None, only: Sequence[str] | None = None) -> int:
    """Run the checks (all, or the named ones), print one line each; 0 if none failed."""
    started = time.monotonic()
    stream = out or _default_output()
    run = _Run(stream)
    try:
        for name, func in CHECKS:
            if only is None or name in only:
                run.check(name, func)
    finally:
        _stop_demo(run)
        _remove_tree(run.workdir)
    failed = sum(o.verdict == "FAIL" for o in run.outcomes)
    warned = sum(o.verdict == "WARN" for o in run.outcomes)
    passed = len(run.outcomes) - failed - warned
    run.emit(f"self-test: {passed} passed, {warned} warned, {failed} failed in {time.monotonic() - started:.1f} s"
             f" ({'bundle' if _frozen() else 'source'}, data folder {paths.data_dir()})")
    if stream is not sys.stdout and stream is not out:
        stream.close()
    return 1 if failed else 0


# --------------------------------------------------------------------------- checks

def check_version(run: _Run) -> str:
    kind = "bundle" if _frozen() else "source"
    return (f"codatdesk {__version__} ({kind}), Python {platform.python_version()}, PySide6 {_pyside_version()}, "
            f"{platform.system()} {platform.machine()}")


def _pyside_version() -> str:
    """From the installed distribution's metadata: the core never imports Qt (the bundle ships the metadata)."""
    for distribution in ("PySide6-Essentials", "PySide6"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def check_imports(run: _Run) -> str:
    names: list[str] = []
    failures: list[str] = []

    def walk_error(name: str) -> None:
        failures.append(f"{name}: {_one_line(sys.exc_info()[1])}")

    for info in pkgutil.walk_packages(codatdesk.__path__, "codatdesk.", onerror=walk_error):
        if info.name.startswith(SKIP_MODULES):
            continue
        names.append(info.name)
        if info.name in sys.modules:
            continue
        try:
            __import__(info.name)
        except Exception as exc:  # noqa: BLE001 - a module that cannot import is reported, whatever it raises
            failures.append(f"{info.name}: {_one_line(exc)}")
    missing = [m for m in SENTINEL_MODULES if m not in names]
    if missing:
        failures.append(f"the module walk did not find {', '.join(missing)}")
    if failures:
        raise CheckFailed(f"{len(failures)} problem(s): " + "; ".join(failures[:5]))
    return f"{len(names)} modules of the codatdesk package imported"


def check_resources(run: _Run) -> str:
    from codatdesk.store.db import MIGRATIONS_DIR

    found = [paths.resource(name) for name in RESOURCES]  # raises naming the missing one
    empty = [str(p) for p in found if (not any(p.iterdir()) if p.is_dir() else p.stat().st_size == 0)]
    if empty:
        raise CheckFailed(f"empty resource file(s): {', '.join(empty)}")
    for name in ("env.py", "script.py.mako"):
        if not (MIGRATIONS_DIR / name).is_file():
            raise CheckFailed(f"migration file missing: {MIGRATIONS_DIR / name}")
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    if not versions:
        raise CheckFailed(f"no migration scripts in {MIGRATIONS_DIR / 'versions'}")
    return f"{len(found)} resources in {paths.resources_dir()}, {len(versions)} migration script(s)"


def check_files(run: _Run) -> str:
    """Locale data, encodings and Excel: what reading an accountant's file needs is in the bundle."""
    from codatdesk.amounts import number_format, parse_amount
    from codatdesk.importer import parse_table, read_table

    if parse_amount("1.234,56", "EUR", number_format("de_DE")) != parse_amount("1 234,56", "EUR", number_format("fr_FR")):
        raise CheckFailed("German and French amounts read differently")
    read = []
    for name in ("examples/expenses-de.csv", "examples/expenses.xlsx"):
        table = read_table(paths.resource(name))
        rows, errors, how = parse_table(table)
        if errors or len(rows) != 5:
            raise CheckFailed(f"{name}: {len(rows)} rows, {', '.join(str(e) for e in errors[:2])}")
        read.append(f"{name} ({table.encoding or table.sheet}{', ' + how if how else ''})")
    return "read " + " and ".join(read)


def check_tls(run: _Run) -> str:
    import ssl

    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    count = context.cert_store_stats().get("x509_ca", 0)
    if count < 10:
        raise CheckFailed(f"the CA bundle {certifi.where()} holds only {count} certificate(s)")
    return f"{count} CA certificates in certifi's bundle (used to verify api.codat.io)"


def check_migrations(run: _Run) -> str:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from codatdesk.store.db import alembic_config, file_url, open_database

    engine = open_database(file_url(run.workdir / "migrations.sqlite3"), durable=False)
    try:
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    finally:
        engine.dispose()
    if current != head:
        raise CheckFailed(f"an empty database migrated to {current!r}, not the newest revision {head!r}")
    return f"an empty database migrated to revision {head} ({len(tables)} tables)"


def check_keyring(run: _Run) -> str:
    from codatdesk import secrets

    result: dict[str, object] = {}

    def probe() -> None:
        try:
            result["name"] = secrets.check_backend()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting thread, which reports it
            result["error"] = exc

    worker = threading.Thread(target=probe, name="selftest-keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    if worker.is_alive():
        problem = (f"{secrets.backend_name()} did not answer within {KEYRING_TIMEOUT:.0f} s "
                   "(locked and waiting for a password?)")
    elif "error" in result:
        error = result["error"]
        problem = f"{secrets.backend_name()}: {error if isinstance(error, secrets.KeyringProblem) else _one_line(error)}"
    else:
        return f"{result['name']} stored, read and deleted a probe entry"
    if os.environ.get(ALLOW_NO_KEYRING_ENV) == "1":
        raise CheckWarning(f"{problem} [allowed: {ALLOW_NO_KEYRING_ENV}=1]")
    if secrets.environment_mode():
        raise CheckWarning(f"{problem} [credentials come from CODATDESK_* environment variables]")
    raise CheckFailed(problem)


def check_webhook_port(run: _Run) -> str:
    from codatdesk.settings import Settings
    from codatdesk.webhooks.listener import ListenerError, _bind

    port = int(Settings().get("listener.port"))
    try:
        sock = _bind("127.0.0.1", port)
    except ListenerError as exc:
        if port and _port_in_use(port):
            raise CheckWarning(f"{exc}") from None
        raise CheckFailed(str(exc)) from None
    bound = sock.getsockname()[1]
    sock.close()
    return f"127.0.0.1:{bound} (setting listener.port) can be bound; released again"


def check_sandbox(run: _Run) -> str:
    demo = _start_demo(run)
    core = demo.core
    return (f"built-in Codat sandbox at {core.settings.get('codat.base_url')}, listener at {core.listener_url}, "
            f"{demo.expected_rows} sample expenses imported")


def check_window(run: _Run) -> str:
    demo = _start_demo(run)
    from codatdesk.ui.selftest_window import render_main_window

    report = render_main_window(demo.core, run.workdir, demo.expected_rows)
    since_launch = _seconds_since_process_start()
    launch = f", {since_launch:.2f} s after launch" if since_launch is not None else ""
    return (f"main window rendered on '{report.platform}' ({report.width}x{report.height}, {report.rows} rows, "
            f"{report.colours}+ colours) {report.shown_after:.2f} s after creating it{launch}")


def check_push(run: _Run) -> str:
    from sqlmodel import Session, select

    from codatdesk.states import ExpenseStatus
    from codatdesk.store.models import Expense

    demo = _start_demo(run)
    core = demo.core
    with Session(core.db) as session:  # the sample's first expense uses accounts the sandbox ledger has
        expense_id = session.exec(select(Expense.id).order_by(Expense.id)).first()
    if expense_id is None:
        raise CheckFailed("the demo database has no expense to push")
    started = time.monotonic()
    batch = core.push([expense_id], user="self-test")
    if batch.problems:
        raise CheckFailed(f"expense {expense_id} could not be sent: {batch.problems[0]}")
    deadline = started + PUSH_TIMEOUT
    while True:
        with Session(core.db) as session:
            expense = session.get(Expense, expense_id)
            status, detail = expense.status, expense.status_detail
        if status is ExpenseStatus.COMPLETE:
            break
        if status.is_final:
            raise CheckFailed(f"expense {expense_id} ended {status.value}: {detail}")
        if time.monotonic() > deadline:
            raise CheckFailed(f"expense {expense_id} still {status.value} after {PUSH_TIMEOUT:.0f} s")
        time.sleep(0.02)
    return (f"expense {expense_id} reached {ExpenseStatus.COMPLETE.value} through the sandbox's signed webhook "
            f"in {time.monotonic() - started:.2f} s")


CHECKS: list[tuple[str, Callable[[_Run], str]]] = [
    ("version", check_version),
    ("imports", check_imports),
    ("resources", check_resources),
    ("files", check_files),
    ("tls", check_tls),
    ("migrations", check_migrations),
    ("keyring", check_keyring),
    ("webhook-port", check_webhook_port),
    ("sandbox", check_sandbox),
    ("window", check_window),
    ("push", check_push),
]


# --------------------------------------------------------------------------- helpers

def _start_demo(run: _Run) -> _Demo:
    """The demo (sandbox + core + sample data) in the run's temporary data folder, started once."""
    if run.demo is not None:
        return run.demo
    if run.demo_error is not None:
        raise CheckFailed(f"the sandbox did not start: {run.demo_error}")
    from sqlalchemy import func
    from sqlmodel import Session, select

    from codatdesk.demo import start_demo
    from codatdesk.store.models import Expense

    try:
        with _data_dir(run.workdir):
            core, cleanup = start_demo(push_delay=0.1)
    except Exception as exc:
        run.demo_error = _one_line(exc)
        raise
    run.demo = _Demo(core, cleanup, 0)
    with Session(core.db) as session:  # the window shows the chosen company's (the demo has one per route)
        run.demo.expected_rows = session.exec(select(func.count()).select_from(Expense)
                                              .where(Expense.company_id == core.company_id)).one()
    if not run.demo.expected_rows:
        raise CheckFailed("the demo imported no sample expenses")
    return run.demo


def _stop_demo(run: _Run) -> None:
    if run.demo is not None:
        try:
            run.demo.cleanup()
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the checks' verdict
            run.emit(f"WARN cleanup: stopping the sandbox failed: {_one_line(exc)}")
        run.demo = None


@contextmanager
def _data_dir(path: Path) -> Iterator[None]:
    """Point paths.data_dir() at ``path`` while the demo creates its files, then put it back."""
    previous = paths._data_dir_override
    paths.set_data_dir(path)
    try:
        yield
    finally:
        paths._data_dir_override = previous


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def _seconds_since_process_start() -> float | None:
    """Linux only (from /proc); elsewhere None."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5); fields[0] is field 3
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _default_output() -> TextIO:
    """stdout; a windowed Windows build has none, so the report goes to a file in the log folder."""
    if sys.stdout is not None:
        return sys.stdout
    return open(paths.log_dir() / "self-test.txt", "w", encoding="utf-8")


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)  # Windows may still hold a file for a moment; it is a temp dir
