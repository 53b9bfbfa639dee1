"""Changed rows are read off the GUI thread, one read at a time, and a read older than a reload is dropped."""

from __future__ import annotations

import threading

from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from codatdesk.ui.expense_model import ExpenseTableModel
from codatdesk.ui.row_reads import RowReads
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import add_expenses, wait_for


class GatedReads(StoreReads):
    """The store's reads, held at a gate once read (so what they return is as old as their start); notes each
    read's thread and ids."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.gate = threading.Event()
        self.gate.set()
        self.reads: list[tuple[str, list[int]]] = []

    def expense_rows_by_id(self, ids):
        self.reads.append((threading.current_thread().name, list(ids)))
        rows = super().expense_rows_by_id(ids)
        assert self.gate.wait(10)
        return rows


def _set_status(db, expense_id: int, status: S) -> None:
    with session_scope(db) as session:
        expense = session.get(Expense, expense_id)
        expense.status = status
        session.add(expense)


def test_rows_are_read_off_the_gui_thread_and_changes_meanwhile_join_the_next_read(qtbot, db):
    ids = add_expenses(db, "acme", 5)
    core = GatedReads(db)
    model = ExpenseTableModel(core)
    model.load("acme")
    after: list[set[int]] = []
    reads = RowReads(model, after.append)
    core.gate.clear()
    _set_status(db, ids[0], S.COMPLETE)
    reads.request({ids[0]})
    wait_for(lambda: len(core.reads) == 1, 5, "the first read began")
    for expense_id in ids[1:]:  # while it waits at the gate
        _set_status(db, expense_id, S.FAILED)
        reads.request({expense_id})
    assert reads.busy and len(core.reads) == 1  # one read at a time
    core.gate.set()
    wait_for(lambda: not reads.busy, 5, "both reads applied")
    assert [r[1] for r in core.reads] == [[ids[0]], sorted(ids[1:])]
    assert all(name != threading.current_thread().name for name, _ in core.reads)
    assert model.row_for_id(ids[0]).status is S.COMPLETE
    assert all(model.row_for_id(i).status is S.FAILED for i in ids[1:])
    assert after == [{ids[0]}, set(ids[1:])]  # totals, details, actions follow each read


def test_a_read_that_began_before_a_reload_is_dropped(qtbot, db):
    (expense_id,) = add_expenses(db, "acme", 1)
    core = GatedReads(db)
    model = ExpenseTableModel(core)
    model.load("acme")
    reads = RowReads(model, lambda ids: None)
    core.gate.clear()
    reads.request({expense_id})
    wait_for(lambda: len(core.reads) == 1, 5, "the read began")
    _set_status(db, expense_id, S.COMPLETE)
    model.sync()  # a whole reload (an import, a delete) shows it complete
    assert model.row_for_id(expense_id).status is S.COMPLETE
    core.gate.set()  # the read returns what it read before: not complete
    with qtbot.waitSignal(reads.applied, timeout=5000):
        pass
    assert not reads.busy
    assert model.row_for_id(expense_id).status is S.COMPLETE


def test_a_failed_read_is_tried_again_with_what_changed_meanwhile(qtbot, db, monkeypatch):
    import codatdesk.ui.row_reads as row_reads

    monkeypatch.setattr(row_reads, "RETRY_MS", 50)
    first, second = add_expenses(db, "acme", 2)
    core = GatedReads(db)
    model = ExpenseTableModel(core)
    model.load("acme")
    reads = RowReads(model, lambda ids: None)
    real, failures = core.expense_rows_by_id, [OSError("the team database is out of reach")]

    def failing_once(ids):
        if failures:
            raise failures.pop()
        return real(ids)

    core.expense_rows_by_id = failing_once
    _set_status(db, first, S.COMPLETE)
    reads.request({first})
    wait_for(lambda: not failures, 5, "the read failed")
    _set_status(db, second, S.FAILED)
    reads.request({second})
    wait_for(lambda: not reads.busy, 5, "read again")
    assert model.row_for_id(first).status is S.COMPLETE and model.row_for_id(second).status is S.FAILED
