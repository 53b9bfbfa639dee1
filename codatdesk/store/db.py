"""Engine and session setup. The only module that knows which database is behind the URL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from codatdesk import paths
from codatdesk.events import Event, EventBus, ExpenseChanged

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "codatdesk_write"
RELAXED_OPTION = "codatdesk_relaxed"  # a write whose commit need not reach the disk at once
MIGRATION_LOCK_KEY = 0x636F6461_0001  # "coda" + 1: the PostgreSQL advisory lock upgrades take (migrations/env.py)


def default_url() -> str:
    return file_url(paths.database_path())


def file_url(path: Path) -> str:
    """The URL of a database kept in one local file (the default store, the demo, the self-test)."""
    return f"sqlite:///{path}"


def make_engine(url: str | None = None, *, durable: bool = True) -> Engine:
    """Create an engine for ``url`` (default: the SQLite file in the data dir).

    ``durable`` commits survive power loss (SQLite ``synchronous=FULL``); the webhook
    inbox needs that because Codat forgets a delivery once we answer 2xx.
    """
    url = url or default_url()
    _create_private_file(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            # Let us issue BEGIN IMMEDIATE ourselves (see _begin_immediate).
            isolation_level=None,
        )
        _configure_sqlite(engine, durable=durable)
        return engine
    return _postgres_engine(url, durable=durable)


POSTGRES_CONNECT_TIMEOUT_S = 10  # a team database out of reach fails the start, it does not hang it


def _postgres_engine(url: str, *, durable: bool) -> Engine:
    """A team's shared PostgreSQL (issue #15). Connections say they are codatdesk (``pg_stat_activity``),
    stale ones after a network loss are replaced before use, and a relaxed write commits with
    ``synchronous_commit=off``: atomic, but the server may lose the last such commits if it crashes,
    the same promise as SQLite's NORMAL (PostgreSQL docs, "Asynchronous Commit")."""
    # synchronous_commit=on whatever the server's default: a durable write (the inbox) must survive a crash.
    # timezone=UTC: times are stored and read as UTC, whatever the server's or the database's own zone.
    sync = "on" if durable else "off"
    engine = create_engine(url, pool_size=10, max_overflow=20,
                           connect_args={"application_name": "codatdesk",
                                         "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
                                         "options": f"-c synchronous_commit={sync} -c timezone=UTC"})
    _ping_after_idle(engine)

    @event.listens_for(engine, "begin")
    def _begin_postgres(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION) and options.get(RELAXED_OPTION) and durable:
            _begin_relaxed(conn)

    from codatdesk.team.change_feed import feed_writer  # a shared database: tell the other processes

    on_before_commit(engine, feed_writer(engine))
    return engine


def _begin_relaxed(conn: Connection) -> None:
    """BEGIN and ``SET LOCAL synchronous_commit = off`` in one round trip: one simple query through libpq (which
    lets go of the GIL while it waits). psycopg then finds the transaction open and sends no BEGIN of its own;
    through psycopg they were two round trips at the start of each of the applier's batches."""
    import psycopg
    from psycopg import pq

    pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    result = pgconn.exec_(b"BEGIN; SET LOCAL synchronous_commit = off")
    if result.status != pq.ExecStatus.COMMAND_OK:
        # A dead connection is dropped by the pool when it comes back (its rollback fails): the next write gets
        # a new one (tests/team/test_idle_ping.py).
        message = (result.error_message or b"").decode("utf-8", "replace").strip()
        raise psycopg.OperationalError(f"could not begin a relaxed write: {message or result.status}")


PING_AFTER_IDLE_S = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Replace a pooled connection that died while it sat idle (a network loss, a server restart) before it
    is used: SQLAlchemy's ``pool_pre_ping``, but only for a connection idle for a second or more. Pinging at every
    checkout was one more round trip in every transaction, and a team server's applier and inbox check out many
    times a second; a connection that dies while in use fails its transaction either way, and the callers retry."""
    from sqlalchemy import exc

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            _ping(engine, dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"a pooled connection to the team database had died: {error}") from error


def _ping(engine: Engine, dbapi_conn: Any) -> None:
    engine.dialect.do_ping(dbapi_conn)  # pool_pre_ping's own: SELECT 1 in autocommit, so no transaction is left open


def _create_private_file(url: str) -> None:
    """A new SQLite file is created 0600 (SQLite would use the umask): it holds the books."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        if path.parent.is_dir():
            paths.create_private_file(path)


def _configure_sqlite(engine: Engine, *, durable: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # A deferred transaction that later writes gets SQLITE_BUSY at once, ignoring
        # busy_timeout; write transactions (session_scope) take the lock up front so
        # writers queue instead. Reads stay deferred and never wait for a writer (WAL).
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION):
            # Per transaction, since pooled connections serve durable and relaxed writers alike.
            relaxed = options.get(RELAXED_OPTION) or not durable
            conn.exec_driver_sql(f"PRAGMA synchronous={'NORMAL' if relaxed else 'FULL'}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _writer(engine: Engine, *, durable: bool = True) -> Engine:
    name = "_codatdesk_writer" if durable else "_codatdesk_relaxed_writer"
    writer = engine.__dict__.get(name)
    if writer is None:
        writer = engine.execution_options(**{WRITE_OPTION: True, RELAXED_OPTION: not durable})
        engine.__dict__[name] = writer
    return writer


_write_locks_guard = threading.Lock()


def _write_lock(engine: Engine) -> threading.RLock:
    """One lock per engine that every write transaction of this process holds.

    SQLite lets one writer in at a time; threads that find the lock taken wait in
    its busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries, so under load
    (push workers, inbox, applier) writers slept long after the lock was free. Queuing
    on a Python lock hands the write lock over at once; busy_timeout still covers
    other processes (``codatdesk push`` beside ``serve``). Reentrant, so a nested
    write (which the docstring forbids anyway) fails as before rather than deadlocking here.
    """
    lock = engine.__dict__.get("_codatdesk_write_lock")
    if lock is None:
        with _write_locks_guard:
            lock = engine.__dict__.setdefault("_codatdesk_write_lock", threading.RLock())
    return lock


# -- unit of work: changes register their events on the session; the commit publishes them -----------
_EVENTS = "codatdesk_events"  # session.info key: events registered in this transaction
_BUS = "codatdesk_bus"
_BEFORE_COMMIT = "codatdesk_before_commit"
_CHANGED_EXPENSES = "codatdesk_changed_expenses"  # ids of the ExpenseChanged events registered


def bind_bus(engine: Engine, bus: EventBus) -> None:
    """Events registered in this engine's write transactions go to ``bus`` once they commit."""
    engine.__dict__[_BUS] = bus


def on_before_commit(engine: Engine, hook: Callable[[Session, list[Event]], None]) -> None:
    """``hook(session, events)`` runs inside each write transaction of ``engine`` that registered events, just
    before it commits: a shared database records them there for the other processes (team/change_feed.py)."""
    engine.__dict__[_BEFORE_COMMIT] = hook


def register(session: Session, event: Event) -> None:
    """Publish ``event`` when (and only if) this session's transaction commits."""
    session.info.setdefault(_EVENTS, []).append(event)
    if isinstance(event, ExpenseChanged):
        session.info.setdefault(_CHANGED_EXPENSES, set()).add(event.expense_id)


def expense_change_registered(session: Session, expense_id: int | None) -> bool:
    """Whether this transaction already says that ``expense_id`` changed (a lookup: a webhook storm's batch
    asks it for each of its expenses)."""
    return expense_id in session.info.get(_CHANGED_EXPENSES, ())


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    hook = session.info.get(_BEFORE_COMMIT)
    events = session.info.get(_EVENTS)
    if hook is not None and events:
        hook(session, list(events))


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    events = session.info.pop(_EVENTS, None)
    session.info.pop(_CHANGED_EXPENSES, None)
    bus = session.info.get(_BUS)
    if events and bus is not None:
        for registered in events:
            bus.publish(registered)  # EventBus never raises: a broken subscriber is logged


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_EVENTS, None)
    session.info.pop(_CHANGED_EXPENSES, None)


@contextmanager
def session_scope(engine: Engine, *, durable: bool = True, concurrent: bool = False) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on error.

    Keep it short and never open another write transaction inside it. ``durable=False``
    (SQLite ``synchronous=NORMAL`` in WAL mode): the commit is atomic and survives a crash
    of the app, but a power cut may undo it until the next durable commit (WAL frames
    reach the disk in order). Only for writes that are re-derived after such a loss.

    ``concurrent=True``: the transaction is safe beside other writers (it only inserts, or locks
    what it changes in a fixed order, as claiming push requests with SKIP LOCKED and the applier
    do: as safe as beside another process's), so on PostgreSQL it does not queue behind this
    process's other write transactions. It can wait for their row locks, never they for the
    process's lock because of it: no cycle. SQLite lets one writer in at a time whatever this says.

    Events registered with :func:`register` are published once it commits, to the bus bound
    with :func:`bind_bus`; a rollback drops them.
    """
    queue: AbstractContextManager[object] = (nullcontext() if concurrent and engine.dialect.name == "postgresql"
                                             else _write_lock(engine))
    with queue, Session(_writer(engine, durable=durable), expire_on_commit=False) as session:
        session.info[_BUS] = engine.__dict__.get(_BUS)
        session.info[_BEFORE_COMMIT] = engine.__dict__.get(_BEFORE_COMMIT)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version (run on every start).

    A database at a revision these migrations do not know was written by a newer
    codatdesk: refuse it untouched (Alembic would only say it cannot locate the revision).
    """
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from codatdesk import __version__
    from codatdesk.version import DataFromNewerVersion

    config = alembic_config(engine)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise DataFromNewerVersion(
            f"The data in {engine.url.database or engine.url} was written by a newer version of codatdesk "
            f"(database version {current}); this is codatdesk {__version__}. Install the newer version to "
            f"open it; nothing was changed.")
    command.upgrade(config, "head")


def open_database(url: str | None = None, *, durable: bool = True) -> Engine:
    engine = make_engine(url, durable=durable)
    migrate(engine)
    return engine


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only look at the store (deferred transaction: never waits for a writer in WAL)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()
