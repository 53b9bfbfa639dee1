"""Reconciliation: what webhooks missed, Codat's push history tells.

On start, every ``reconcile.interval_seconds`` and on demand, Codat is asked (GET
/push/{key}) about

* each operation still Pending after ``reconcile.threshold_seconds``;
* each TimedOut operation whose expense is still *Outcome unknown* (Codat: a timed-out
  write may still land; a late Success turns the expense Push complete);
* each Failed operation whose reasons never arrived (the fetch after the webhook failed,
  or the process died before it ran), until they do;
* (Expenses route) each sync with a transaction still Pending: its status and transactions;

and the answers are applied through the applier (the same state machine as webhooks).
Requests run in the company's pool, so they share the 10-concurrent limit with pushes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codatdesk.codat import CodatClient, CodatError
from codatdesk.engine.pusher import PushEngine
from codatdesk.engine.quiet_reads import MAX_WAIT_SECONDS
from codatdesk.engine.results import UNKNOWN_TO_CODAT, OperationResult
from codatdesk.events import EventBus, Notice
from codatdesk.states import ExpenseStatus
from codatdesk.store.history import Cause
from codatdesk.store.models import Expense, PushAttempt, PushOperation, push_operation_has_reasons, utcnow

# A Success whose warnings were never read is asked about for a day (a day's reconciliations), then left:
# the row is in the ledger either way, and a key Codat forgot would be asked about for ever.
WARNINGS_READ_FOR = dt.timedelta(days=1)

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, db: Engine, bus: EventBus, client: Callable[[], CodatClient], pusher: PushEngine,
                 submit_result: Callable[[str, OperationResult, Cause], None], *,
                 interval: Callable[[], float], threshold: Callable[[], float],
                 check_connections: Callable[[], None] = lambda: None,
                 resume_chains: Callable[[], None] = lambda: None,
                 sweep_receipts: Callable[[], object] = lambda: None) -> None:
        self.db = db
        self.bus = bus
        self.client = client
        self.pusher = pusher
        self.submit_result = submit_result
        self.interval = interval
        self.threshold = threshold
        self.check_connections = check_connections
        self.resume_chains = resume_chains
        self.sweep_receipts = sweep_receipts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._force_all = True  # the first run after start checks everything in progress
        # Team mode: only the active server reconciles (a standby asking too would resend lost answers twice).
        self.active: Callable[[], bool] = lambda: True
        self.runs = 0  # runs finished
        self.started = 0  # runs begun
        self._ran = threading.Condition()

    def start(self) -> None:
        if self._stop.is_set():
            return
        thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        thread.start()
        self._thread = thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def run_soon(self, *, everything: bool = True) -> int:
        """Ask for a run; returns the ``after`` for :meth:`wait_for_run` that waits for a run begun after this
        request (a run already going may have read the store before the caller's last write)."""
        with self._ran:
            self._force_all = self._force_all or everything
            self._wake.set()
            return self.started

    def wait_for_run(self, after: int, timeout: float) -> bool:
        with self._ran:
            return self._ran.wait_for(lambda: self.runs > after, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.active():
                self._wake.wait(self.interval())
                self._wake.clear()
                continue
            with self._ran:
                self.started += 1
                everything, self._force_all = self._force_all, False
            try:
                self.run_once(threshold=0 if everything else self.threshold())
            except Exception:
                log.exception("reconciliation failed; it runs again later")
            with self._ran:
                self.runs += 1
                self._ran.notify_all()
            self._wake.wait(self.interval())
            self._wake.clear()

    def run_once(self, *, threshold: float) -> int:
        """Fetch every operation Pending for longer than ``threshold`` seconds, every outcome-unknown one,
        every Failed one without its reasons, and every recent Success whose warnings were never read (the
        read waits for a pause in the results, and a quit or crash meanwhile drops it); returns how many."""
        try:
            self.check_connections()
        except Exception:
            log.exception("connection check failed")
        cutoff = utcnow() - dt.timedelta(seconds=threshold)
        with Session(self.db) as session:
            pending = list(session.exec(select(PushOperation).where(
                PushOperation.status == "Pending", PushOperation.requested_at <= cutoff)).all())
            pending += session.exec(select(PushOperation).join(Expense, Expense.push_operation_key == PushOperation.key)
                                    .where(PushOperation.status == "TimedOut", PushOperation.requested_at <= cutoff,
                                           Expense.status == ExpenseStatus.OUTCOME_UNKNOWN,
                                           PushOperation.error_message.is_distinct_from(UNKNOWN_TO_CODAT))).all()
            no_reasons = session.exec(select(PushOperation).where(
                PushOperation.status == "Failed", ~push_operation_has_reasons())).all()
            now = utcnow()
            unread_warnings = session.exec(select(PushOperation).where(
                PushOperation.status == "Success", PushOperation.data_type == "directCosts",
                col(PushOperation.last_checked_at).is_(None),
                col(PushOperation.completed_at) >= now - WARNINGS_READ_FOR,
                col(PushOperation.completed_at) <= now - dt.timedelta(seconds=2 * MAX_WAIT_SECONDS))).all()
            # Attempts still "sending" long after any request could last were left by a process that died.
            orphaned = utcnow() - self.pusher.orphan_after
            unknown_companies = set(session.exec(select(PushAttempt.company_id).where(
                (PushAttempt.outcome == "unknown")
                | ((PushAttempt.outcome == "sending") & (PushAttempt.started_at <= orphaned)))).all())
        futures = [self.pusher.pool(op.company_id).submit(self.pusher.fetch_details_now, op.company_id, op.key)
                   for op in [*pending, *no_reasons, *unread_warnings]]
        for company_id in unknown_companies:
            futures.append(self.pusher.pool(company_id).submit(self.pusher.resolve_unknown, company_id))
        futures += self.pusher.expenses.open_syncs(threshold)  # Expenses syncs whose end we have not read
        failures = 0
        for future in futures:
            try:
                future.result()
            except CodatError as exc:
                failures += 1
                log.warning("reconciliation request failed: %s", exc)
        self.resume_chains()  # dependents whose prerequisite finished but were not sent (e.g. Codat was down)
        try:
            self.sweep_receipts()  # receipts of expenses in the ledger that a crash or an outage left unsent
        except Exception:
            log.exception("receipt upload sweep failed")
        if failures:
            self.bus.publish(Notice("warning", f"Reconciliation could not reach Codat for {failures} "
                                               "operation(s); it will try again.", topic="reconcile"))
        return len(pending) + len(no_reasons) + len(unread_warnings)
