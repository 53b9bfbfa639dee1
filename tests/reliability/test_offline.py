"""Offline: the app is closed while its pushes complete in Codat.

Every webhook fails (nobody listens) and the sandbox gives up after its retry schedule.
On the next start, the start-up reconciliation brings every row to its true state in
that one run, within Codat's rate limit (no 429 at all, at most 10 requests in flight),
and re-pushes nothing.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import Session, select

from codatdesk.sandbox import SandboxConfig
from codatdesk.sandbox.state import ApiError
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense, StatusChange
from tests.engine_harness import Harness, row
from tests.reliability.support import REGISTRY, Stopwatch, report, sized

pytestmark = pytest.mark.reliability

PUSHES = sized(100, 500)
PUSH_DELAY = sized(4, 12)  # seconds: long enough for the whole batch to be sent before the app closes
TRUE_STATE = {"Success": S.COMPLETE, "Failed": S.FAILED, "TimedOut": S.OUTCOME_UNKNOWN}


class RateWatch:
    """Counts the sandbox's 429s and the most requests it had in flight for one company."""

    def __init__(self, sandbox) -> None:
        self.limiter = sandbox.limiter
        self.too_many = 0
        self.peak = 0
        self.requests = 0
        self._lock = threading.Lock()
        acquire = self.limiter.acquire

        def counting(scope: str) -> None:
            try:
                acquire(scope)
            except ApiError as error:
                if error.status == 429:
                    with self._lock:
                        self.too_many += 1
                raise
            with self._lock:
                self.requests += 1
                self.peak = max(self.peak, self.limiter.in_flight(scope))

        self.limiter.acquire = counting

    def reset(self) -> None:
        with self._lock:
            self.too_many = self.peak = self.requests = 0


@pytest.fixture
def rig(data_dir):
    h = Harness(data_dir, SandboxConfig(push_delay=PUSH_DELAY, seed=17, retry_schedule=(0, 0.1, 0.3)))
    h.start_sandbox()
    yield h
    h.stop()


def test_offline_then_reconciled_in_one_run(rig):
    watch = Stopwatch()
    sandbox = rig.sandbox
    rates = RateWatch(sandbox)
    core = rig.start_core()
    REGISTRY.secret(sandbox.api_key)
    REGISTRY.secret(rig.secrets[0])
    assert core.reconciler.wait_for_run(0, 30)
    rows = []
    for i in range(PUSHES):
        if i % 10 == 3:
            rows.append(row(i, bank="091"))  # Codat: Failed (091 stops being a bank account below)
        elif i % 10 == 7:
            rows.append(row(i, note=" [sandbox:timeout]"))  # Codat: TimedOut
        else:
            rows.append(row(i))
    rig.import_rows(rows)
    # codatdesk reads the ledger, then 091 stops being a bank account there: only Codat can refuse those
    # rows (an unknown payment account is blocked before sending, #12).
    rig.close_bank_account_after_reading("091")
    with Session(core.db) as session:
        ids = list(session.exec(select(Expense.id).order_by(Expense.id)))
    batch = core.push(ids)
    assert batch.wait(120) and not batch.problems and batch.sent == PUSHES
    operations = sandbox.push_operations
    assert len(operations) == PUSHES
    assert all(op["status"] == "Pending" for op in operations.values()), \
        "pushes completed before the app closed: raise PUSH_DELAY for this machine"
    rig.stop_core()  # the app is closed

    assert sandbox.wait_idle(PUSH_DELAY + 30)
    log = sandbox.deliverer.log
    write_events = {a.msg_id for a in log.attempts if ".write." in a.event_type}
    assert len(write_events) == PUSHES and not log.delivered, "some webhook got through while the app was closed"
    assert all(a.status_code is None for a in log.attempts)  # every attempt failed to connect
    truth = {key: TRUE_STATE[op["status"]] for key, op in sandbox.push_operations.items()}
    assert Counter(truth.values()) == {S.COMPLETE: PUSHES * 8 // 10, S.FAILED: PUSHES // 10, S.OUTCOME_UNKNOWN: PUSHES // 10}

    rates.reset()
    sandbox.config.latency = 0.02  # requests overlap, so the concurrency limit matters
    started = Stopwatch()
    core = rig.start_core()  # the start-up reconciliation checks everything in progress
    assert core.reconciler.wait_for_run(0, 120)
    assert core.wait_idle(30)
    reconcile_seconds = started.seconds
    with Session(core.db) as session:
        expenses = list(session.exec(select(Expense)))
        causes = Counter(c.cause_kind for c in session.exec(
            select(StatusChange).where(StatusChange.to_status != S.IN_PROGRESS.value)))
    assert core.reconciler.runs == 1, "it took more than the one start-up run"
    off = [(e.id, e.status, truth[e.push_operation_key]) for e in expenses
           if S(e.status) is not truth[e.push_operation_key]]
    assert not off, f"{len(off)} rows off their true state, e.g. {off[:3]}"
    assert causes == {"reconciliation": PUSHES}
    assert rates.too_many == 0, f"{rates.too_many} answers were 429"
    assert rates.peak <= core.settings.get("push.concurrency")
    assert len(sandbox.push_operations) == PUSHES, "something was pushed again"
    references = Counter(cost.get("reference") for cost in sandbox.ledger(sandbox.company_id))
    assert max(references.values()) == 1 and len(references) == PUSHES * 8 // 10
    report("offline", pushes=PUSHES, reconcile_requests=rates.requests, peak_in_flight=rates.peak,
           rate_limited=rates.too_many, reconcile_seconds=round(reconcile_seconds, 1),
           seconds=round(watch.seconds, 1), result="passed")
