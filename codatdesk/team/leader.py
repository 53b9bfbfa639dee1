"""Which team server is active: the holder of one PostgreSQL advisory lock.

Each server keeps a dedicated connection and tries ``pg_try_advisory_lock`` every ``retry_seconds``.
The lock belongs to that database session: when the active server dies its connection closes,
PostgreSQL releases the lock, and a standby takes it at its next try (within seconds). A server whose
connection breaks stops being active at once (it may no longer hold the lock). Both servers may
receive webhooks; only the active one claims push requests (team/requests.py).

On SQLite there is one server per data folder already (``serve_lock``): it is always active.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# A fixed 64-bit key of our own (advisory keys are global to the database; the name keeps it ours).
LEADER_KEY = zlib.crc32(b"codatdesk team server leader")


class AlwaysLeader:
    """One process per database (SQLite): nothing to elect."""

    is_leader = True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class LeaderLock:
    def __init__(self, engine: Engine, *, retry_seconds: float = 1.0,
                 on_change: Callable[[bool], None] = lambda leader: None) -> None:
        self.engine = engine
        self.retry_seconds = retry_seconds
        self.on_change = on_change
        self._leader = threading.Event()
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader.is_set()

    def wait_leader(self, timeout: float) -> bool:
        return self._leader.wait(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="leader-lock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give the lock up (a standby takes over at its next try) and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._drop(release=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.try_once()
            except (SQLAlchemyError, OSError) as exc:  # the database is unreachable: not active until it answers
                log.warning("leader lock: %s", exc)
                self._drop(release=False)
            self._stop.wait(self.retry_seconds)

    def try_once(self) -> bool:
        """Take the lock if free; while held, check that its session is still alive."""
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.is_leader:
            self._conn.execute(text("SELECT 1"))  # raises when the session (and so the lock) is gone
            return True
        if self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_KEY}).scalar_one():
            self._set(True)
        return self.is_leader

    def _set(self, leader: bool) -> None:
        if leader != self.is_leader:
            (self._leader.set if leader else self._leader.clear)()
            log.info("this server is now %s", "the active one" if leader else "standing by")
            self.on_change(leader)

    def _drop(self, *, release: bool) -> None:
        conn, self._conn = self._conn, None
        self._set(False)
        if conn is None:
            return
        try:
            if release:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_KEY})
            else:
                conn.invalidate()  # a broken connection must not go back to the pool
            conn.close()
        except Exception:  # already gone: closing it is all that was left to do
            log.debug("closing the leader connection failed", exc_info=True)


def leader_lock(engine: Engine, *, retry_seconds: float = 1.0) -> LeaderLock | AlwaysLeader:
    return LeaderLock(engine, retry_seconds=retry_seconds) if engine.dialect.name == "postgresql" else AlwaysLeader()
