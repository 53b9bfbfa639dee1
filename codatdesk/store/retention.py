"""How long webhook bodies are kept: ``webhook.retention_days`` (default 90), swept at start and daily.

A delivery older than that loses its body and headers; its row stays (delivery id, type,
verdict, times received), so a late re-delivery is still known as a duplicate and the
history's causes still name it. A tunnel self-test delivery is ours and only measured the
tunnel: it is deleted whole. Never swept, whatever their age (sandbox choice, i.e. ours:
Codat's docs say nothing about keeping deliveries):

* a delivery still to be applied (``pending``) or waiting for its key (``parked``): its body
  is all there is to apply;
* a delivery about a push operation that is still open (Pending, or TimedOut, which a late
  Success may still end): it is the evidence of what Codat said while the row is unsettled.

Team mode's change feed (``change_log``, team/change_feed.py) is kept ``CHANGES_KEPT_DAYS``: a desktop
reads each change as it is committed, so only one cut off from the database for longer could miss
some; it says so when it is back.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, delete, exists, not_, or_, update
from sqlalchemy.engine import CursorResult, Engine

from codatdesk.store.db import session_scope
from codatdesk.store.models import ChangeLogEntry, PushOperation, WebhookDelivery, utcnow

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600.0
UNAPPLIED_VERDICTS = ("pending", "parked")
OPEN_OPERATION_STATUSES = ("Pending", "TimedOut")
SWEPT_DETAIL = "body removed after the retention period"


CHANGES_KEPT_DAYS = 30


@dataclass(frozen=True)
class SweepResult:
    bodies_removed: int
    selftests_deleted: int
    changes_pruned: int = 0


def sweep(db: Engine, retention_days: int, *, disposable_event_types: Iterable[str] = (),
          now: dt.datetime | None = None) -> SweepResult:
    """Remove what is older than ``retention_days`` and no open work needs (see the module docstring)."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    table = WebhookDelivery.__table__
    disposable = tuple(disposable_event_types)
    still_needed = or_(
        table.c.verdict.in_(UNAPPLIED_VERDICTS),
        exists().where(PushOperation.__table__.c.key == table.c.push_operation_key,
                       PushOperation.__table__.c.status.in_(OPEN_OPERATION_STATUSES)),
    )
    old = and_(table.c.received_at < cutoff, not_(still_needed))
    with session_scope(db) as session:
        deleted = session.execute(delete(table).where(old, table.c.event_type.in_(disposable))).rowcount \
            if disposable else 0
        removed = session.execute(
            update(table).where(old, table.c.body != b"").values(body=b"", headers_json="{}")).rowcount
        changes = ChangeLogEntry.__table__  # type: ignore[attr-defined]
        pruned = cast("CursorResult[Any]", session.execute(delete(changes).where(
            changes.c.at < (now or utcnow()) - dt.timedelta(days=CHANGES_KEPT_DAYS)))).rowcount
    if removed or deleted or pruned:
        log.info("retention: %d webhook bodies removed, %d self-test deliveries deleted (older than %d days), "
                 "%d changes of the team's feed pruned", removed, deleted, retention_days, pruned)
    return SweepResult(removed, deleted, pruned)


class RetentionSweeper:
    """Runs :func:`sweep` at start and then once a day, on its own thread, until stopped."""

    def __init__(self, db: Engine, retention_days: Callable[[], int], *,
                 disposable_event_types: Iterable[str] = (), interval_seconds: float = DAY_SECONDS) -> None:
        self._db = db
        self._retention_days = retention_days
        self._disposable = tuple(disposable_event_types)
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sweep(self._db, int(self._retention_days()), disposable_event_types=self._disposable)
            except Exception:  # a busy or locked store: the next run tries again
                log.exception("retention sweep failed; it runs again tomorrow")
            self.runs += 1
            self._stop.wait(self._interval)
