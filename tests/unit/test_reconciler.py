"""The Reconciler alone: which operations it asks Codat about, through a fake engine at its seam."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future

from codatdesk.codat import CodatError
from codatdesk.engine.reconcile import Reconciler
from codatdesk.engine.results import UNKNOWN_TO_CODAT
from codatdesk.events import EventBus, Notice
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import PushOperation, utcnow
from tests.unit.support import (
    COMPANY,
    Recorder,
    add_attempt,
    add_expense,
    add_operation,
)


class RunNow:
    """A company pool that runs the work at once, on the caller's thread."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future, as a pool does
            future.set_exception(exc)
        return future


class NoExpensesRoute:
    def open_syncs(self, threshold: dt.timedelta) -> list:
        return []


class FakeEngine:
    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.expenses = NoExpensesRoute()  # the Expenses route's open syncs (none here)
        self.orphan_after = dt.timedelta(minutes=10)
        self.fetched: list[str] = []
        self.resolved: list[str] = []
        self.failing = failing

    def pool(self, company_id: str) -> RunNow:
        return RunNow()

    def fetch_details_now(self, company_id: str, key: str) -> None:
        self.fetched.append(key)
        if key in self.failing:
            raise CodatError("Codat is down")

    def resolve_unknown(self, company_id: str) -> int:
        self.resolved.append(company_id)
        return 0


def reconciler(db, engine: FakeEngine, events: list | None = None) -> tuple[Reconciler, Recorder, Recorder]:
    bus = EventBus()
    if events is not None:
        bus.subscribe(events.append)
    checked, resumed = Recorder(), Recorder()
    return (Reconciler(db, bus, lambda: None, engine, Recorder(), interval=lambda: 3600.0, threshold=lambda: 60.0,
                       check_connections=checked, resume_chains=resumed), checked, resumed)


def test_it_asks_about_old_pending_unknown_timed_out_and_failed_without_reasons(db):
    old = utcnow() - dt.timedelta(minutes=5)
    add_operation(db, "pending-old", add_expense(db, reference="1"), requested_at=old)
    add_operation(db, "pending-new", add_expense(db, reference="2"))
    add_operation(db, "timed-out", add_expense(db, reference="3", status=ExpenseStatus.OUTCOME_UNKNOWN,
                                               key="timed-out"), status="TimedOut", requested_at=old)
    add_operation(db, "timed-out-gone", add_expense(db, reference="4", status=ExpenseStatus.OUTCOME_UNKNOWN,
                                                    key="timed-out-gone"), status="TimedOut", requested_at=old)
    add_operation(db, "failed-no-reasons", add_expense(db, reference="5"), status="Failed", requested_at=old)
    add_operation(db, "succeeded", add_expense(db, reference="6"), status="Success", requested_at=old)
    with session_scope(db) as session:
        gone = session.get(PushOperation, "timed-out-gone")
        gone.error_message = UNKNOWN_TO_CODAT  # Codat said 404 for good: asking again is pointless
        session.add(gone)
    engine = FakeEngine()
    rec, checked, resumed = reconciler(db, engine)

    assert rec.run_once(threshold=60) == 3
    assert sorted(engine.fetched) == ["failed-no-reasons", "pending-old", "timed-out"]
    assert checked.calls == [()] and resumed.calls == [()]
    assert engine.resolved == []


def test_a_recent_success_whose_warnings_were_never_read_is_asked_about(db):
    """The warnings read waits for a pause in the results; a quit or a crash meanwhile dropped it."""
    now = utcnow()
    for key, completed, checked in (("unread", now - dt.timedelta(minutes=5), None),
                                    ("read", now - dt.timedelta(minutes=5), now),
                                    ("just-now", now, None),  # its read is still waiting for the pause
                                    ("last-week", now - dt.timedelta(days=7), None)):
        add_operation(db, key, add_expense(db, reference=key), status="Success")
        with session_scope(db) as session:
            op = session.get(PushOperation, key)
            op.completed_at, op.last_checked_at = completed, checked
            session.add(op)
    engine = FakeEngine()
    assert reconciler(db, engine)[0].run_once(threshold=60) == 1
    assert engine.fetched == ["unread"]


def test_unknown_attempts_and_orphans_are_settled_per_company(db):
    expense_id = add_expense(db)
    add_attempt(db, expense_id, outcome="sending", started_at=utcnow() - dt.timedelta(hours=1))
    engine = FakeEngine()
    rec, _, _ = reconciler(db, engine)
    rec.run_once(threshold=60)
    assert engine.resolved == [COMPANY]


def test_an_attempt_being_sent_now_is_not_yet_an_orphan(db):
    add_attempt(db, add_expense(db), outcome="sending", started_at=utcnow())
    engine = FakeEngine()
    reconciler(db, engine)[0].run_once(threshold=60)
    assert engine.resolved == []


def test_failures_are_counted_and_said_once_and_the_run_goes_on(db):
    old = utcnow() - dt.timedelta(minutes=5)
    for number in range(3):
        add_operation(db, f"k{number}", add_expense(db, reference=str(number)), requested_at=old)
    events: list = []
    engine = FakeEngine(failing={"k0", "k2"})
    reconciler(db, engine, events)[0].run_once(threshold=60)
    assert sorted(engine.fetched) == ["k0", "k1", "k2"]
    [notice] = [e for e in events if isinstance(e, Notice)]
    assert "2 operation(s)" in notice.message


def test_waiting_for_a_requested_run_does_not_end_with_the_run_already_going(db):
    """A run already going may have read the store before the caller's last write: the wait is for the next one."""
    import threading

    engine = FakeEngine()
    rec, _, _ = reconciler(db, engine)
    started = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]
    runs: list[float] = []

    def run_once(*, threshold: float) -> int:
        runs.append(threshold)
        if len(runs) <= 2:
            started[len(runs) - 1].set()
            release[len(runs) - 1].wait(10)
        return 0

    rec.run_once = run_once  # type: ignore[method-assign]
    rec.start()
    try:
        assert started[0].wait(10)  # the start-up run is going
        ticket = rec.run_soon()
        release[0].set()
        assert started[1].wait(10)  # the first run is over, the requested one going
        assert not rec.wait_for_run(ticket, 0)
        release[1].set()
        assert rec.wait_for_run(ticket, 10)
        assert runs == [0, 0]  # both checked everything
    finally:
        rec.stop()
