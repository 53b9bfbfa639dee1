"""Read-only database access for display.

The core's engine starts every transaction with ``BEGIN IMMEDIATE`` (right for
writers). A GUI read doing that would queue behind the applier and stall the
window, so the GUI reads the same SQLite file through its own engine: deferred
transactions (a WAL reader never waits for a writer), ``query_only``, short busy
timeout. Other databases (or in-memory SQLite) fall back to the core's engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

READ_BUSY_TIMEOUT_MS = 2_000


def make_read_engine(engine: Engine) -> Engine:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    reader = create_engine(url, connect_args={"check_same_thread": False, "timeout": READ_BUSY_TIMEOUT_MS / 1000},
                           isolation_level=None)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(reader, "begin")
    def _begin_deferred(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN")  # one consistent snapshot per read, no write lock

    return reader


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()
