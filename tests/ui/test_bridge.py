"""The bridge from core threads to the GUI thread, and burst coalescing."""

from __future__ import annotations

import gc
import sys
import threading

from PySide6.QtCore import QItemSelectionModel, Qt, QThread
from PySide6.QtWidgets import QApplication, QTableView

from codatdesk.events import DeliveryRecorded, EventBus, ExpenseChanged, ListenerStateChanged, Notice, PushProgress
from codatdesk.states import ExpenseStatus
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from codatdesk.ui.bridge import CoreBridge, RowRefreshCoalescer
from codatdesk.ui.expense_model import Column, ExpenseFilterProxy, ExpenseTableModel, IdRole
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import add_expenses, wait_for


class Receiver:
    def __init__(self) -> None:
        self.events = []
        self.wrong_thread = 0

    def __call__(self, event) -> None:
        if QThread.currentThread() is not QApplication.instance().thread():
            self.wrong_thread += 1
        self.events.append(event)


def test_every_event_type_arrives_on_the_gui_thread(qapp):
    bus = EventBus()
    bridge = CoreBridge()
    bridge.attach(bus)
    receivers = {name: Receiver() for name in ("expenseChanged", "deliveryRecorded", "pushProgress", "notice",
                                                "healthChanged")}
    for name, receiver in receivers.items():
        bridge.connect_queued(name, receiver)
    events = [ExpenseChanged(1, "c", S.IN_PROGRESS, S.COMPLETE), DeliveryRecorded("d1", "rejected", detail="bad signature"),
              PushProgress(1, 1, 2), Notice("warning", "slow down"), ListenerStateChanged("http://127.0.0.1:1")]
    thread = threading.Thread(target=lambda: [bus.publish(e) for e in events])
    thread.start()
    thread.join()
    wait_for(lambda: all(r.events for r in receivers.values()), 5, "every signal")
    assert all(r.wrong_thread == 0 for r in receivers.values())
    assert receivers["deliveryRecorded"].events == [events[1]]
    bridge.detach()
    bus.publish(ExpenseChanged(2, "c", S.NOT_PUSHED, S.NOT_PUSHED))
    QApplication.processEvents()
    assert len(receivers["expenseChanged"].events) == 1


def test_ten_thousand_emits_neither_crash_nor_leak(qapp):
    """Also guards the PySide6 6.12/py3.11 bug where each emit dropped a reference to True."""
    bus = EventBus()
    bridge = CoreBridge()
    bridge.attach(bus)
    receiver = Receiver()
    bridge.connect_queued("expenseChanged", receiver)
    gc.collect()
    true_refs = sys.getrefcount(True)
    live_before = sum(isinstance(o, ExpenseChanged) for o in gc.get_objects())

    def publish_many() -> None:
        for i in range(10_000):
            bus.publish(ExpenseChanged(i, "c", S.IN_PROGRESS, S.COMPLETE))

    thread = threading.Thread(target=publish_many)
    thread.start()
    thread.join()
    wait_for(lambda: len(receiver.events) == 10_000, 20, "10,000 deliveries")
    assert receiver.wrong_thread == 0
    assert [e.expense_id for e in receiver.events[:3]] == [0, 1, 2]  # in order
    receiver.events.clear()
    QApplication.processEvents()
    gc.collect()
    assert abs(sys.getrefcount(True) - true_refs) < 50
    live_after = sum(isinstance(o, ExpenseChanged) for o in gc.get_objects())
    assert live_after - live_before < 50  # queued copies were released
    bridge.detach()


def test_bursts_keep_selection_scroll_and_update_only_changed_rows(qtbot, db):
    ids = add_expenses(db, "acme", 1000)
    model = ExpenseTableModel(StoreReads(db))
    model.load("acme")
    proxy = ExpenseFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.DATE, Qt.SortOrder.AscendingOrder)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.resize(900, 400)
    qtbot.addWidget(view)
    view.show()

    selection = view.selectionModel()
    for row in range(300, 310):
        selection.select(proxy.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                         | QItemSelectionModel.SelectionFlag.Rows)
    view.verticalScrollBar().setValue(290)
    qtbot.wait(10)
    selected_before = sorted(i.data(IdRole) for i in selection.selectedRows())
    scroll_before = view.verticalScrollBar().value()
    assert len(selected_before) == 10 and scroll_before == 290

    changed_rows: set[int] = set()
    resets = []
    model.dataChanged.connect(lambda tl, br, roles=(): changed_rows.update(range(tl.row(), br.row() + 1)))
    model.modelReset.connect(lambda: resets.append(1))
    model.layoutChanged.connect(lambda *a: resets.append("layout"))

    bus = EventBus()
    bridge = CoreBridge()
    bridge.attach(bus)
    coalescer = RowRefreshCoalescer(model.refresh_rows, interval_ms=50)
    bridge.connect_queued("expenseChanged", coalescer.on_expense_changed)
    flushes = []
    coalescer.flushed.connect(flushes.append)

    # 200 expenses really change (20 per round); 2,000 events name them and others.
    final = {}
    rounds = [ids[r * 20:(r + 1) * 20] for r in range(10)]

    def core_thread() -> None:
        for r, chunk in enumerate(rounds):
            status = (ExpenseStatus.COMPLETE, ExpenseStatus.FAILED)[r % 2]
            with session_scope(db) as session:
                for eid in chunk:
                    expense = session.get(Expense, eid)
                    expense.status = status
                    session.add(expense)
                    final[eid] = status
            for k in range(200):
                eid = chunk[(k // 2) % 20] if k % 2 else ids[500 + k]  # unchanged rows too: no dataChanged for them
                bus.publish(ExpenseChanged(eid, "acme", status, status))

    thread = threading.Thread(target=core_thread)
    thread.start()
    # The GUI stays responsive while the burst arrives.
    while thread.is_alive():
        qtbot.wait(5)
    thread.join()
    wait_for(lambda: coalescer.pending == 0 and all(
        model.row_for_id(eid).status is status for eid, status in final.items()), 10, "final statuses")

    assert resets == []
    assert sorted(i.data(IdRole) for i in selection.selectedRows()) == selected_before
    assert view.verticalScrollBar().value() == scroll_before
    expected_rows = {model.position_of(eid) for eid in final}
    assert changed_rows == expected_rows  # only rows that really changed
    assert sum(flushes) <= 2000 and len(flushes) < 200  # coalesced, not one refresh per event
    bridge.detach()
