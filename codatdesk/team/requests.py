"""Push requests (team mode): desktops ask, one server sends.

A desktop holds no Codat key. It asks for a push by inserting ``push_request`` rows in the same
transaction that moves each expense to *Push requested* through the state machine, with the person
recorded. The active server (team/leader.py) claims queued rows with ``SELECT ... FOR UPDATE SKIP
LOCKED``, so two servers never claim the same row, and sends them through the ordinary push engine.

Never twice, never lost:
* a claim is committed before anything is sent; a server that dies leaves its rows *claimed*, and
  the next active server takes them over (only the lock holder claims, so a claim by anyone else
  is by a server that lost the lock: dead or cut off);
* sending again after a take-over is safe: the push engine locks the expense row, refuses one that
  is already in progress or has an open attempt, and an attempt of unknown outcome is settled with
  the same Idempotency-Key (engine/lost_answers.py) before the expense can be sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from codatdesk.engine.pusher import EngineClosed, ProblemKind, PushBatch, PushProblem
from codatdesk.states import ExpenseStatus, Trigger, can_apply
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Expense, PushRequest, utcnow

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushEngine

log = logging.getLogger(__name__)

QUEUED, CLAIMED, DONE, REFUSED = "queued", "claimed", "done", "refused"
QUEUED_DETAIL = "Waiting for the team's server to send it"
# A claim by another server this old is taken over by the active one (a lost lock reports itself within seconds).
STALE_CLAIM = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Requested:
    """What a desktop's request did: rows queued for the server, and rows it could not queue (why)."""

    batch_key: str
    queued: list[int] = field(default_factory=list)
    refused: list[PushProblem] = field(default_factory=list)


def request_push(db: Engine, expense_ids: Iterable[int], actor: str) -> Requested:
    """Queue these expenses for the team's server, all in one transaction (none or all of the writes)."""
    requested = Requested(uuid.uuid4().hex)
    with session_scope(db) as session:
        # Locked in one order: two desktops asking for the same rows in another order would deadlock.
        for expense_id in sorted(set(expense_ids)):
            expense = session.get(Expense, expense_id, with_for_update=True)
            if expense is None:
                requested.refused.append(PushProblem(expense_id, "this expense no longer exists", ProblemKind.STATE))
                continue
            status = ExpenseStatus(expense.status)
            if not can_apply(status, Trigger.PUSH_REQUESTED):
                why = ("already asked of the team's server" if status is ExpenseStatus.QUEUED
                       else f"it is {status.value}")
                requested.refused.append(PushProblem(expense_id, why, ProblemKind.STATE))
                continue
            change_status(session, expense, Trigger.PUSH_REQUESTED, Cause.user(actor), detail=QUEUED_DETAIL)
            session.add(PushRequest(batch_key=requested.batch_key, expense_id=expense_id,
                                    company_id=expense.company_id, requested_by=actor[:100]))
            requested.queued.append(expense_id)
    return requested


def _skip_locked(query: SelectOfScalar[PushRequest], session: Session) -> SelectOfScalar[PushRequest]:
    """The one dialect check: PostgreSQL skips rows another server holds; SQLite's write transaction
    is exclusive already (BEGIN IMMEDIATE), so there is nothing to skip."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def claim(db: Engine, server_id: str, limit: int = 200) -> list[PushRequest]:
    """Claim up to ``limit`` queued requests for ``server_id`` (committed before anything is sent)."""
    with session_scope(db, concurrent=True) as session:  # it locks what it reads (SKIP LOCKED)
        query = select(PushRequest).where(PushRequest.state == QUEUED).order_by(col(PushRequest.id)).limit(limit)
        rows = list(session.exec(_skip_locked(query, session)).all())
        now = utcnow()
        for row in rows:
            row.state, row.claimed_by, row.claimed_at = CLAIMED, server_id, now
            session.add(row)
    return rows


def take_over(db: Engine, server_id: str, claimed_before: dt.datetime | None = None) -> int:
    """Queue again what other servers claimed and never finished. Called by the lock holder only: any
    other claimer has lost the lock (died, or was cut off from the database). ``claimed_before``: only
    claims that old (a server that lost the lock a moment ago may still be finishing its batch)."""
    with session_scope(db) as session:
        query = select(PushRequest).where(PushRequest.state == CLAIMED, PushRequest.claimed_by != server_id)
        if claimed_before is not None:
            query = query.where(col(PushRequest.claimed_at) < claimed_before)
        rows = list(session.exec(_skip_locked(query, session)).all())
        for row in rows:
            row.detail = f"taken over from server {row.claimed_by}"
            row.state, row.claimed_by, row.claimed_at = QUEUED, None, None
            session.add(row)
    if rows:
        log.warning("took over %d push requests of a server that is gone", len(rows))
    return len(rows)


def finish(db: Engine, requests: list[PushRequest], batch: PushBatch | None, why_not: str = "") -> None:
    """Close the requests after their batch: done when sent (or waiting for an account), refused with
    the reason otherwise; a row still *Push requested* goes back to Not pushed saying why."""
    reasons: dict[int, list[str]] = {}
    if batch is not None:
        for problem in [*batch.problems, *batch.unsent]:
            reasons.setdefault(problem.expense_id, []).append(problem.reason)
    with session_scope(db) as session:
        for request in requests:
            row = session.get(PushRequest, request.id)
            if row is None:  # nothing deletes requests; a row gone is nothing to close
                continue
            if row.state != CLAIMED or row.claimed_by != request.claimed_by:
                continue  # taken over meanwhile (this server lost the lock): the new claimer closes it
            expense = session.get(Expense, request.expense_id, with_for_update=True)
            why = "; ".join(reasons.get(request.expense_id, ())) or why_not
            # Moved on (sent, waiting for an account; after a take-over: sent by the server that died): done.
            refused = expense is not None and ExpenseStatus(expense.status) is ExpenseStatus.QUEUED
            if refused and expense is not None:
                why = why or "the server did not send it; push again"
                change_status(session, expense, Trigger.REQUEST_REFUSED, Cause.engine("server"),
                              detail=f"Not sent: {why}")
            row.state = REFUSED if refused or expense is None else DONE
            row.detail, row.finished_at = why, utcnow()
            session.add(row)


class RequestServer:
    """The server's loop: while it holds the leader lock, take over dead claims, claim, send, close."""

    def __init__(self, db: Engine, pusher: PushEngine, *, server_id: str, is_leader: Callable[[], bool],
                 interval: float = 0.5, batch_size: int = 200) -> None:
        self.db = db
        self.pusher = pusher
        self.server_id = server_id
        self.is_leader = is_leader
        self.interval = interval
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_leader = False
        self._next_stale_sweep = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="push-requests", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A request was queued (a change notification may call this): look at once."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._wake.wait(self.interval)
                    self._wake.clear()
            except Exception:  # the database went away for a moment: the loop goes on
                log.exception("handling push requests failed")
                self._stop.wait(self.interval)

    def run_once(self) -> int:
        """One pass; returns how many requests it handled (0: nothing to do, or not the leader)."""
        leader = self.is_leader()
        if leader and not self._was_leader:
            take_over(self.db, self.server_id)
        elif leader and time.monotonic() >= self._next_stale_sweep:
            # A server that still believed itself active for a moment after losing the lock may have claimed
            # rows after the take-over above: they would stay claimed forever.
            take_over(self.db, self.server_id, claimed_before=utcnow() - STALE_CLAIM)
            self._next_stale_sweep = time.monotonic() + STALE_CLAIM.total_seconds()
        self._was_leader = leader
        if not leader:
            return 0
        requests = claim(self.db, self.server_id, self.batch_size)
        by_batch: dict[str, list[PushRequest]] = {}
        for request in requests:
            by_batch.setdefault(request.batch_key, []).append(request)
        for group in by_batch.values():
            self._send(group)
        return len(requests)

    def _send(self, group: list[PushRequest]) -> None:
        ids = [r.expense_id for r in group]
        try:
            batch = self.pusher.push(ids, Cause.user(group[0].requested_by), requested=True)
        except EngineClosed:
            return  # stopping: the rows stay claimed and the next active server takes them over
        batch.wait()
        if self._stop.is_set() and batch.cancelled:
            return
        finish(self.db, group, batch)
