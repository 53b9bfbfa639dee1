"""The Applier alone: results in through its queue, follow-ups out through recorders (no HTTP, no pools)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from codatdesk.engine.applier import Applier
from codatdesk.engine.results import OperationResult
from codatdesk.events import EventBus, ExpenseChanged
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import bind_bus
from codatdesk.store.history import Cause
from codatdesk.store.models import Expense, PushOperation, StatusChange
from tests.unit.support import COMPANY, Recorder, add_expense, add_operation


@pytest.fixture
def applier(db):
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    bind_bus(db, bus)  # committed changes are published after the commit, as in the core
    applier = Applier(db, bus, fetch_details=Recorder(), push_dependents=Recorder(), push_ended=Recorder())
    applier.events = events
    applier.start()
    yield applier
    applier.stop()


def in_progress(db, key: str) -> int:
    expense_id = add_expense(db, status=ExpenseStatus.IN_PROGRESS, key=key, reference=key)
    add_operation(db, key, expense_id)
    return expense_id


def apply(applier: Applier, result: OperationResult) -> None:
    applier.submit_result(COMPANY, result, Cause.reconciliation(result.key))
    assert applier.wait_idle(10)


def status(db, expense_id: int) -> ExpenseStatus:
    with Session(db) as session:
        return session.get(Expense, expense_id).status


def test_a_success_completes_the_push_and_ends_it_for_the_batch(db, applier):
    expense_id = in_progress(db, "k1")
    apply(applier, OperationResult(key="k1", status="Success", data_type="directCosts", record_id="dc-1",
                                   has_details=True))
    assert status(db, expense_id) is ExpenseStatus.COMPLETE
    assert applier.push_ended.calls == [("k1", "Success")]
    assert any(isinstance(e, ExpenseChanged) and (e.expense_id, e.company_id, e.old, e.new)
               == (expense_id, COMPANY, ExpenseStatus.IN_PROGRESS, ExpenseStatus.COMPLETE) for e in applier.events)
    with Session(db) as session:
        assert session.get(PushOperation, "k1").status == "Success"
        [change] = session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)).all()
        assert (change.to_status, change.cause_kind, change.cause_ref) == (
            ExpenseStatus.COMPLETE.value, "reconciliation", "k1")


def test_a_failure_without_its_reasons_asks_for_them_after_the_commit(db, applier):
    expense_id = in_progress(db, "k2")
    apply(applier, OperationResult(key="k2", status="Failed", data_type="directCosts"))
    assert status(db, expense_id) is ExpenseStatus.FAILED
    assert applier.fetch_details.calls == [(COMPANY, "k2")]


def test_a_success_leaves_its_warnings_for_a_pause_and_a_failure_asks_for_its_reasons_at_once(db, applier):
    applier.read_warnings_later = Recorder()
    in_progress(db, "w1")
    in_progress(db, "w2")
    apply(applier, OperationResult(key="w1", status="Success", data_type="directCosts", record_id="dc-1"))
    apply(applier, OperationResult(key="w2", status="Failed", data_type="directCosts"))
    assert applier.read_warnings_later.calls == [(COMPANY, "w1")]
    assert applier.fetch_details.calls == [(COMPANY, "w2")]


def test_reading_a_success_with_nothing_new_still_records_the_read(db, applier):
    """Reconciliation asks about a recent Success whose warnings were never read: once read, never again."""
    in_progress(db, "r1")
    apply(applier, OperationResult(key="r1", status="Success", data_type="directCosts", record_id="dc-1"))
    with Session(db) as session:
        assert session.get(PushOperation, "r1").last_checked_at is None
    apply(applier, OperationResult(key="r1", status="Success", data_type="directCosts", record_id="dc-1",
                                   has_details=True))
    with Session(db) as session:
        assert session.get(PushOperation, "r1").last_checked_at is not None


def test_a_timeout_is_outcome_unknown_and_a_late_success_still_wins(db, applier):
    expense_id = in_progress(db, "k3")
    apply(applier, OperationResult(key="k3", status="TimedOut", data_type="directCosts", has_details=True))
    assert status(db, expense_id) is ExpenseStatus.OUTCOME_UNKNOWN
    apply(applier, OperationResult(key="k3", status="Success", data_type="directCosts", has_details=True))
    assert status(db, expense_id) is ExpenseStatus.COMPLETE


def test_a_result_for_a_key_the_expense_no_longer_has_changes_nothing(db, applier):
    expense_id = in_progress(db, "k-new")
    add_operation(db, "k-old", expense_id, status="Pending")
    apply(applier, OperationResult(key="k-old", status="Failed", data_type="directCosts", has_details=True))
    assert status(db, expense_id) is ExpenseStatus.IN_PROGRESS
    assert applier.push_ended.calls == [("k-old", "Failed")]  # the old operation itself did end
