"""Which store the core suite runs on (issue #15): SQLite, the default, or a real PostgreSQL with
``pytest --store=postgresql`` (or ``CODATDESK_TEST_STORE=postgresql``).

Tests ask for a database with :func:`database_url` (the ``db`` fixture, the engine harness, and the data
folder's default store do): on SQLite a file at the path given, on PostgreSQL a new database cloned from a
template already migrated to head (a clone costs milliseconds; migrating each would cost a second).
Tests about SQLite itself (its file, WAL, a killed writer) keep their file URLs and run on SQLite in both modes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import make_url

ENV = "CODATDESK_TEST_STORE"
KINDS = ("sqlite", "postgresql")

_kind = "sqlite"
_server: str | None = None
_template: str | None = None
_created: dict[Path, str] = {}


def kind() -> str:
    return _kind


def use_postgresql(server_url: str) -> None:
    """From now on every database asked for is a clone of a migrated template on ``server_url``."""
    global _kind, _server, _template
    from codatdesk.store.db import open_database
    from tests import pg_server as pg

    _kind, _server = "postgresql", server_url
    template_url = pg.create_database(server_url, prefix="codatdesk_template")
    open_database(template_url).dispose()  # migrated once; no connection may stay open for CREATE ... TEMPLATE
    _template = make_url(template_url).database


def database_url(path: Path) -> str:
    """The test's database for ``path``: the same one every time it is asked for during this test."""
    if _kind == "sqlite":
        return f"sqlite:///{path}"
    if path not in _created:
        from tests import pg_server as pg

        name = f"codatdesk_test_{uuid.uuid4().hex[:12]}"
        with pg.admin_connect(_server) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
        _created[path] = make_url(pg.sqlalchemy_url(_server)).set(database=name).render_as_string(hide_password=False)
    return _created[path]


def empty_database_url(path: Path) -> str:
    """Like :func:`database_url`, but a database without any table (for tests that migrate it themselves)."""
    if _kind == "sqlite":
        return f"sqlite:///{path}"
    if path not in _created:
        from tests import pg_server as pg

        _created[path] = pg.create_database(_server)
    return _created[path]


def drop_created() -> None:
    """After each test: its databases go (on SQLite its files go with its tmp_path)."""
    if not _created:
        return
    from tests import pg_server as pg

    for url in _created.values():
        pg.drop_database(_server, url)
    _created.clear()
