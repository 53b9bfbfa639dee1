"""Every PushProblem says its kind where it is made; callers decide by the kind, never by the text.
The checks are not repeated needlessly, and rows are published only when their text changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from codatdesk.engine import currency as fx
from codatdesk.engine.pusher import ProblemKind as K
from codatdesk.events import ExpenseChanged
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started


@pytest.fixture
def harness(tmp_path):
    with started(tmp_path, push_delay=0.05, seed=5) as h:
        yield h


def _set(core, expense_id: int, **values) -> None:
    with session_scope(core.db) as session:
        expense = session.get(Expense, expense_id)
        for name, value in values.items():
            setattr(expense, name, value)
        session.add(expense)


def test_each_problem_has_the_kind_of_its_cause(harness):
    core = harness.start_core()
    harness.import_rows([row(1), row(2, tax_code="NOPE"), row(3).replace(",GBP,", ",EUR,"), row(4), row(5)])
    done, unknown_tax, foreign, no_supplier, unbalanced = (e.id for e in expenses(core))
    _set(core, done, status=S.COMPLETE)
    _set(core, no_supplier, supplier_name="")
    _set(core, unbalanced, total=99)
    problems = core.check_pushable([done, unknown_tax, foreign, no_supplier, unbalanced])
    kinds = {}
    for p in problems:
        kinds.setdefault(p.expense_id, []).append(p.kind)
    assert kinds[done] == [K.STATE]
    assert kinds[unknown_tax] == [K.REFERENCE]
    assert kinds[foreign] == [K.RATE]
    # The empty supplier is said once, by the field checks, not again by the reference rules.
    assert kinds[no_supplier] == [K.FIELD]
    assert [p.reason for p in problems if p.expense_id == no_supplier] == ["the supplier is missing"]
    assert kinds[unbalanced] == [K.FIELD]


def test_a_connection_that_is_not_linked_is_a_connection_problem(harness):
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    harness.sandbox.set_connection_status(harness.sandbox.company_id, harness.sandbox.connection_id, "Unlinked")
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(20)
    assert batch.problems and {p.kind for p in batch.problems} == {K.CONNECTION}


def test_checking_again_publishes_nothing_that_did_not_change(harness):
    core = harness.start_core()
    harness.import_rows([row(1, tax_code="NOPE"), row(2).replace(",GBP,", ",EUR,")])
    ids = [e.id for e in expenses(core)]
    core.check_pushable(ids)
    details = [e.status_detail for e in expenses(core)]
    assert "NOPE" in details[0] and fx.MISSING_RATE_MARK in details[1]
    core.wait_idle()
    published: list[ExpenseChanged] = []
    core.bus.subscribe(lambda event: published.append(event) if isinstance(event, ExpenseChanged) else None)
    core.check_pushable(ids)
    batch = core.push(ids)  # the same checks again, then the batch's own
    assert batch.wait(20)
    assert published == []
    assert [e.status_detail for e in expenses(core)] == details


def test_planning_does_not_repeat_the_rate_check_on_lists_already_read(harness, monkeypatch):
    core = harness.start_core()
    harness.import_rows([row(1).replace(",GBP,", ",EUR,")])
    (expense_id,) = (e.id for e in expenses(core))
    fx.set_rate(core.db, harness.sandbox.company_id, "EUR", Decimal("0.85"), dt.date(2020, 1, 1))
    core.refresh_reference_data(harness.sandbox.company_id)
    calls = []
    real = fx.rate_to_send
    monkeypatch.setattr(fx, "rate_to_send", lambda session, expense: (calls.append(expense.id), real(session, expense))[1])
    batch = core.push([expense_id])
    assert batch.wait(20) and not batch.problems
    wait_until(lambda: S(expenses(core)[0].status).is_final, 20, message="the push final")
    # Once before sending (explain-before-send) and once inside the send's claim (the rate table may
    # have changed in between); no longer a third time while planning.
    assert calls == [expense_id, expense_id]
