"""Team mode's change feed: what one process commits, every other process on the same PostgreSQL sees.

Writing: each write transaction that registered events (``store.db.register``) also inserts them into
``change_log`` and sends ``NOTIFY codatdesk_changes`` with the newest sequence number as payload (ids
only: the database stays the source of truth). Both happen inside the transaction, so a rollback tells
nobody and a commit always leaves its row. Feed writers take one transaction-level advisory lock just
before they commit, so sequence numbers are handed out in commit order: a reader that has seen ``seq``
never meets a smaller one later, and "everything after my last seen sequence" is exact.

Reading: :class:`ChangeFeedListener` LISTENs on its own connection and, on every notification (and every
few seconds, in case one was lost), reads the rows after the last one it saw and publishes their events
on the local bus: the same bus the local listener and applier publish on, so the window's bridge needs
nothing new. A lost connection is retried; once back, the same read brings every change made meanwhile.
A process skips the rows its own engine wrote: those were published locally when they committed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, select, text

from codatdesk.events import (
    ConnectionChanged,
    DeliveryRecorded,
    Event,
    EventBus,
    ExpenseChanged,
    ExpensesImported,
    Notice,
)
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import ChangeLogEntry, utcnow
from codatdesk.store.retention import CHANGES_KEPT_DAYS

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

log = logging.getLogger(__name__)

CHANNEL = "codatdesk_changes"
# pg_advisory_xact_lock key of the feed's writers ("cdfeed" in ASCII): unlikely to meet another app's.
FEED_LOCK = 0x636466656564
READ_BATCH = 2000  # rows per read while catching up
_ORIGIN = "codatdesk_feed_origin"
_TABLE = ChangeLogEntry.__table__  # type: ignore[attr-defined]
_AFTER_SQL = "SELECT seq, origin, kind, body FROM change_log WHERE seq > %s ORDER BY seq LIMIT %s"

# The events other processes need: committed facts about stored data. Health, progress and notices are
# about this process (its listener, its batches) and stay local.
FEED_EVENTS: dict[str, type] = {cls.__name__: cls for cls in (ExpenseChanged, ExpensesImported, DeliveryRecorded,
                                                              ConnectionChanged)}


def origin_of(engine: Engine) -> str:
    """This engine's name in the feed (one per engine, so two desktop cores in one process see each other)."""
    origin = engine.__dict__.get(_ORIGIN)
    if origin is None:
        origin = engine.__dict__.setdefault(_ORIGIN, uuid.uuid4().hex)
    return str(origin)


# -- writing ---------------------------------------------------------------------------------------------------------

def encode(event: Event) -> tuple[str, str] | None:
    kind = type(event).__name__
    if kind not in FEED_EVENTS:
        return None
    # Flat events of scalars: their fields as they are (asdict would deep-copy each value).
    fields = {f.name: getattr(event, f.name) for f in dataclass_fields(event) if f.name != "from_feed"}
    return kind, json.dumps(fields, separators=(",", ":"))  # StrEnum statuses encode as their value


def decode(kind: str, body: str) -> Event | None:
    cls = FEED_EVENTS.get(kind)
    if cls is None:  # written by a newer codatdesk: not ours to guess at
        return None
    fields = json.loads(body)
    if cls is ExpenseChanged:
        for name in ("old", "new"):
            if fields.get(name) is not None:
                fields[name] = ExpenseStatus(fields[name])
        fields["from_feed"] = True
    return cast("Event", cls(**fields))


def feed_writer(engine: Engine) -> Callable[[Session, list[Event]], None]:
    """The before-commit hook of a shared database's write transactions (``store.db.on_before_commit``)."""
    origin = origin_of(engine)

    def record_changes(session: Session, events: list[Event]) -> None:
        _record(session, events, origin)

    return record_changes


def _record(session: Session, events: list[Event], origin: str) -> None:
    encoded = [e for e in map(encode, events) if e is not None]
    if not encoded:
        return
    # The commit's last flush would otherwise run under the feed lock: a row lock it waits for (another writer
    # holding it while waiting for this lock) would deadlock, and stall every committer meanwhile.
    session.flush()
    # One JSON text, not two text arrays: the driver escapes an array's strings one by one, quote by quote.
    session.execute(_APPEND, {"lock": FEED_LOCK, "origin": origin, "at": utcnow(),
                              "entries": json.dumps(encoded, separators=(",", ":")), "channel": CHANNEL})


# The lock, the rows and the notification in one round trip (three took a team server's applier a tenth of its
# time under load, B7). The rows are made from the lock's row, so the lock is held before the first ``seq``
# is drawn; they are drawn in the events' order.
_APPEND = text("""
    WITH feed_lock AS (SELECT pg_advisory_xact_lock(:lock)),
         added AS (INSERT INTO change_log (origin, kind, body, at)
                   SELECT :origin, entry.value ->> 0, entry.value ->> 1, :at
                   FROM feed_lock, json_array_elements(CAST(:entries AS json)) WITH ORDINALITY AS entry(value, n)
                   ORDER BY entry.n
                   RETURNING seq)
    SELECT pg_notify(:channel, max(seq)::text) FROM added""")


# -- reading ---------------------------------------------------------------------------------------------------------

def latest_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(_TABLE.c.seq), 0))).scalar_one())


class ChangeFeedListener:
    """Publishes on ``bus`` what the other processes commit to ``engine``'s database (one thread)."""

    def __init__(self, engine: Engine, bus: EventBus, *, poll_seconds: float = 5.0,
                 retry_seconds: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)) -> None:
        self.engine = engine
        self.bus = bus
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.last_seen = 0
        self.connected = threading.Event()  # set while LISTENing (tests and the status bar wait on it)
        self.caught_up = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._origin = origin_of(engine)
        self._last_poll = 0.0
        self._heard_at = time.monotonic()  # the last time the database answered this listener

    def start(self) -> None:
        """Start after what the database holds now (the window loads the table itself), then listen."""
        if self._thread is not None:
            return
        self.last_seen = latest_seq(self.engine)
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def wait_for(self, seq: int, timeout: float) -> bool:
        """Until this listener has published everything up to ``seq`` (for tests and benchmarks)."""
        with self.caught_up:
            return self.caught_up.wait_for(lambda: self.last_seen >= seq, timeout)

    # -- the thread ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - any database error: the connection is gone, try again
                if self._stop.is_set():
                    break
                if self.connected.is_set() or failures == 0:
                    log.warning("team database unreachable: %s", exc)
                if self.connected.is_set():
                    self.connected.clear()
                    self.bus.publish(Notice(
                        "warning", "Lost the connection to the team database. Other people's changes will show "
                                   "here as soon as it is back; check the network if this lasts.", topic="team"))
                delay = self.retry_seconds[min(failures, len(self.retry_seconds) - 1)]
                failures += 1
                self._stop.wait(delay)
        self.connected.clear()

    def _listen(self) -> None:
        raw = self.engine.raw_connection()  # the engine's own settings (password, SSL) apply
        try:
            conn = cast("psycopg.Connection[Any]", raw.driver_connection)  # make_engine's PostgreSQL driver
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
            was_offline = not self.connected.is_set() and self.last_seen > 0
            missed = self._catch_up(conn)  # whatever was committed before LISTEN took effect, or while away
            self.connected.set()
            if was_offline:
                self.bus.publish(self.back_online_notice(missed))
            while not self._stop.is_set():
                self._heard_at = time.monotonic()
                # A short wait so stop() is heard; a notification ends it at once.
                notified = any(True for _ in conn.notifies(timeout=0.25, stop_after=1))
                if notified or self._poll_due():
                    self._catch_up(conn)
        finally:
            raw.invalidate()  # a LISTENing connection never goes back to the pool

    def back_online_notice(self, missed: int) -> Notice:
        """What the person is told once the database answers again. The server prunes the feed after
        ``CHANGES_KEPT_DAYS``: cut off for longer, this window may have missed changes it cannot read now."""
        if time.monotonic() - self._heard_at > CHANGES_KEPT_DAYS * 86400:
            return Notice("warning", f"Connected to the team database again after more than {CHANGES_KEPT_DAYS} "
                                     "days. Some changes made meanwhile are no longer in its feed: close and open "
                                     "codatdesk to see every row as it is now.", topic="team")
        return Notice("info", f"Connected to the team database again ({missed} change(s) caught up).", topic="team")

    def _poll_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_poll >= self.poll_seconds:
            self._last_poll = now
            return True
        return False

    def _catch_up(self, conn: psycopg.Connection[Any]) -> int:
        """Publish the rows after the last one seen, read on the LISTENing connection itself (one round trip,
        no pool check-out and its ping; if that connection is gone, both fail together)."""
        published = 0
        while True:
            rows = conn.execute(_AFTER_SQL, (self.last_seen, READ_BATCH)).fetchall()
            for seq, origin, kind, body in rows:
                if origin != self._origin:
                    event = decode(kind, body)
                    if event is not None:
                        self.bus.publish(event)
                        published += 1
                with self.caught_up:
                    self.last_seen = seq
                    self.caught_up.notify_all()
            if len(rows) < READ_BATCH:
                return published


def listen_for_changes(engine: Engine, bus: EventBus) -> ChangeFeedListener | None:
    """A started listener when ``engine`` is a shared (PostgreSQL) database; None for the embedded SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    listener = ChangeFeedListener(engine, bus)
    listener.start()
    return listener
