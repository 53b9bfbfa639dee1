"""A pooled connection to the team database is checked before use only after it sat idle (store/db.py)."""

from __future__ import annotations

from sqlalchemy import text

from codatdesk.store import db as store_db
from codatdesk.store.db import open_database


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_that_died_while_idle_is_replaced_before_use(pg_url, monkeypatch):
    engine = open_database(pg_url)
    killer = open_database(pg_url)
    try:
        dead = _backend_pid(engine)
        with killer.connect() as conn:  # the server ends it (a restart, a network loss) while it sits in the pool
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", 0.0)  # it has been idle long enough
        assert _backend_pid(engine) != dead  # no error: a new connection took its place
    finally:
        engine.dispose()
        killer.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_again(pg_url, monkeypatch):
    pings: list[object] = []
    ping = store_db._ping
    monkeypatch.setattr(store_db, "_ping", lambda conn: (pings.append(conn), ping(conn)))
    monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", 60.0)
    engine = open_database(pg_url)
    try:
        for _ in range(5):  # a server's applier and inbox check out many times a second
            _backend_pid(engine)
        assert pings == []
        monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", 0.0)
        _backend_pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()
