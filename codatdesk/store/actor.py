"""Who is writing: the database role on a shared database (team mode), the OS user on a local file.

The history records it on every status change (``StatusChange.actor``) and edits keep it
(``Expense.updated_by``), so a team sees who pushed or changed what.
"""

from __future__ import annotations

import getpass
import threading

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

_KEY = "_codatdesk_actor"
_lock = threading.Lock()


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without passwd entry): still say something
        return "unknown user"


def actor_of(engine: Engine | Connection) -> str:
    """The identity this engine writes as, asked once per engine (writer engines share it)."""
    root = _root(engine)
    cached = root.__dict__.get(_KEY)
    if cached is not None:
        return str(cached)
    with _lock:
        if root.dialect.name == "postgresql":
            with root.connect() as conn:
                name = str(conn.execute(text("SELECT current_user")).scalar_one())
        else:
            name = os_user()
        root.__dict__[_KEY] = name
    return name


def set_actor(engine: Engine | Connection, name: str) -> None:
    """Tests and tools that act for a named person on one engine."""
    _root(engine).__dict__[_KEY] = name


def _root(bind: Engine | Connection) -> Engine:
    """Writer engines (``execution_options``) proxy the engine the store opened: one identity for both."""
    engine = bind.engine
    while (proxied := getattr(engine, "_proxied", None)) is not None:
        engine = proxied
    return engine
