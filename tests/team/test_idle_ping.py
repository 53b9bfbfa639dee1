"""A pooled connection to the team database is checked before use only after it sat idle, and a relaxed write
begins in one round trip (store/db.py)."""

from __future__ import annotations

import pytest
from psycopg import OperationalError
from sqlalchemy import text

from codatdesk.store import db as store_db
from codatdesk.store.db import open_database, session_scope


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
    monkeypatch.setattr(store_db, "_ping", lambda engine, conn: (pings.append(conn), ping(engine, conn)))
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


def test_a_relaxed_write_begins_relaxed_on_a_fresh_and_on_a_pinged_connection(pg_url, monkeypatch):
    engine = open_database(pg_url)
    try:
        for idle in (60.0, 0.0):  # 0: pinged at checkout
            monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", idle)
            with session_scope(engine, durable=False) as session:
                connection = session.connection()
                assert connection.exec_driver_sql("show synchronous_commit").scalar() == "off"
                assert connection.exec_driver_sql("select count(*) from company").scalar() == 0
            with session_scope(engine) as session:  # the setting was the transaction's only
                assert session.connection().exec_driver_sql("show synchronous_commit").scalar() == "on"
    finally:
        engine.dispose()


def test_a_relaxed_write_on_a_dead_connection_fails_and_the_next_one_gets_a_new_connection(pg_url, monkeypatch):
    monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", 60.0)  # no ping: the relaxed BEGIN finds it dead
    engine = open_database(pg_url)
    killer = open_database(pg_url)
    try:
        dead = _backend_pid(engine)
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        with pytest.raises(OperationalError), session_scope(engine, durable=False) as session:
            session.connection()  # begins: the relaxed BEGIN is the first thing sent
        with session_scope(engine, durable=False) as session:
            assert session.connection().exec_driver_sql("select pg_backend_pid()").scalar() != dead
    finally:
        engine.dispose()
        killer.dispose()


def test_a_pinged_connection_can_still_be_switched_to_autocommit(pg_url, monkeypatch):
    """The leader lock's connection is AUTOCOMMIT: the ping must not leave a transaction open."""
    monkeypatch.setattr(store_db, "PING_AFTER_IDLE_S", 0.0)
    engine = open_database(pg_url)
    try:
        _backend_pid(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            assert conn.execute(text("select 1")).scalar() == 1
    finally:
        engine.dispose()
