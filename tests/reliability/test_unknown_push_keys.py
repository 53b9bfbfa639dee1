"""A push key Codat answers 404 for: asked about while young, given up on after ``gone_after``
with a row that says what to do, and never asked about again."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense, PushOperation, utcnow
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses, row, started


@pytest.fixture
def harness(tmp_path):
    with started(tmp_path, push_delay=0.05, seed=2) as h:
        yield h


def _pushed_under_unknown_key(h: Harness, expense_id: int, status: str, age: dt.timedelta) -> str:
    """An expense whose push Codat does not know (as after Codat lost it, or another client's key)."""
    key = str(uuid.uuid4())
    with session_scope(h.core.db) as session:
        session.add(PushOperation(key=key, company_id=h.sandbox.company_id, connection_id=h.sandbox.connection_id,
                                  data_type="directCosts", expense_id=expense_id, status=status,
                                  requested_at=utcnow() - age))
        expense = session.get(Expense, expense_id)
        expense.status = S.IN_PROGRESS if status == "Pending" else S.FAILED
        expense.push_operation_key = key
        session.add(expense)
    return key


def _reconcile(h: Harness) -> None:
    runs = h.core.reconciler.run_soon()
    assert h.core.reconciler.wait_for_run(runs, 20)
    h.core.wait_idle()



def test_an_old_pending_key_unknown_to_codat_ends_outcome_unknown_and_is_left_alone(harness):
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    old, young = (e.id for e in expenses(core))
    old_key = _pushed_under_unknown_key(harness, old, "Pending", dt.timedelta(hours=2))
    young_key = _pushed_under_unknown_key(harness, young, "Pending", dt.timedelta(minutes=1))
    seen: list[str] = []
    real = core.client().get_push_operation
    core.client().get_push_operation = lambda company_id, key: (seen.append(key), real(company_id, key))[1]
    _reconcile(harness)
    wait_until(lambda: S(expenses(core)[0].status) is S.OUTCOME_UNKNOWN, 10, message="the old push given up")
    first, second = expenses(core)
    assert "Codat no longer knows this push operation" in first.status_detail
    assert "push it again anyway" in first.status_detail  # the way forward
    assert S(second.status) is S.IN_PROGRESS  # a young 404 may be Codat's history lagging: asked again
    asked = seen.count(old_key)
    _reconcile(harness)
    assert seen.count(old_key) == asked  # never asked about again
    assert seen.count(young_key) >= 2


def test_a_failed_push_whose_reasons_codat_no_longer_has_says_so_and_stops_asking(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense_id,) = (e.id for e in expenses(core))
    key = _pushed_under_unknown_key(harness, expense_id, "Failed", dt.timedelta(hours=2))
    seen: list[str] = []
    real = core.client().get_push_operation
    core.client().get_push_operation = lambda company_id, k: (seen.append(k), real(company_id, k))[1]
    _reconcile(harness)
    wait_until(lambda: "no longer knows" in (expenses(core)[0].status_detail or ""), 10, message="the row told")
    assert "push it again" in expenses(core)[0].status_detail
    asked = seen.count(key)
    _reconcile(harness)
    assert seen.count(key) == asked  # never asked about again
