"""Tabs that are not visible read nothing; shown, they catch up, and read only what is new."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QTabWidget, QWidget

from codatdesk.events import DeliveryRecorded
from codatdesk.store.db import session_scope
from codatdesk.store.models import WebhookDelivery
from codatdesk.ui import activity_view
from codatdesk.ui.activity_view import ActivityView
from tests.ui.fake_core import StoreReads


def store_deliveries(db, first: int, count: int, verdict: str = "applied") -> list[int]:
    with session_scope(db) as session:
        rows = [WebhookDelivery(delivery_id=f"d-{n}", event_type="directCosts.write.successful", body=b"{}",
                                verdict=verdict) for n in range(first, first + count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def set_verdict(db, inbox_id: int, verdict: str) -> None:
    with session_scope(db) as session:
        row = session.get(WebhookDelivery, inbox_id)
        row.verdict = verdict
        session.add(row)


@pytest.fixture
def tabs(qtbot, db):
    widget = QTabWidget()
    qtbot.addWidget(widget)
    widget.addTab(QWidget(), "Expenses")
    view = ActivityView(StoreReads(db))
    widget.addTab(view, "Webhook activity")
    widget.show()
    return widget, view


@pytest.fixture
def reads(monkeypatch):
    """Each call of load_deliveries: how many rows it returned."""
    calls: list[int] = []
    original = activity_view.load_deliveries

    def counting(*args, **kwargs):
        rows = original(*args, **kwargs)
        calls.append(len(rows))
        return rows

    monkeypatch.setattr(activity_view, "load_deliveries", counting)
    return calls


def stored_ids(view: ActivityView) -> set[str]:
    return {row.delivery_id for row in view.model.rows if row.stored}


def test_hidden_activity_reads_nothing_and_catches_up_when_shown(qtbot, db, tabs, reads):
    widget, view = tabs
    store_deliveries(db, 0, 5)
    for n in range(5):
        view.on_delivery_recorded(DeliveryRecorded(f"d-{n}", "pending"))
    # Hidden: nothing is scheduled (no read timer armed), so no read can come later; proven without waiting.
    assert view.reload_pending and not view._reload_timer.isActive()
    qtbot.wait(0)  # deliver anything already posted
    assert reads == [] and view.model.rowCount() == 0
    widget.setCurrentWidget(view)
    assert stored_ids(view) == {f"d-{n}" for n in range(5)}
    assert reads == [5]


def test_visible_activity_reads_only_new_and_still_open_deliveries(qtbot, db, tabs, reads):
    widget, view = tabs
    widget.setCurrentWidget(view)
    applied = store_deliveries(db, 0, 30)
    pending = store_deliveries(db, 30, 2, verdict="pending")
    view.on_delivery_recorded(DeliveryRecorded("d-31", "pending"))
    qtbot.waitUntil(lambda: len(stored_ids(view)) == 32, timeout=2000)
    reads.clear()

    set_verdict(db, pending[0], "applied")  # the applier decided; one more arrives
    set_verdict(db, applied[0], "stale")  # cannot happen to a final verdict: proves it is not read again
    store_deliveries(db, 32, 1)
    view.on_delivery_recorded(DeliveryRecorded("d-32", "pending"))
    qtbot.waitUntil(lambda: len(stored_ids(view)) == 33, timeout=2000)
    assert reads == [3]  # the new one and the two that were pending, not all 33
    verdicts = {row.delivery_id: row.verdict for row in view.model.rows}
    assert verdicts["d-30"] == "applied" and verdicts["d-31"] == "pending" and verdicts["d-0"] == "applied"


def test_rejected_deliveries_are_kept_while_hidden(qtbot, db, tabs, reads):
    widget, view = tabs
    view.on_delivery_recorded(DeliveryRecorded("evil-1", "rejected", "", "401 bad signature"))
    assert [row.verdict for row in view.model.rows] == ["rejected"]  # never stored: the event is all there is
    assert reads == []
    widget.setCurrentWidget(view)
    assert view.proxy.rowCount() == 1


def test_stored_deliveries_are_capped_oldest_first(qtbot, db, tabs, monkeypatch):
    monkeypatch.setattr(activity_view, "MAX_STORED", 10)
    widget, view = tabs
    widget.setCurrentWidget(view)
    store_deliveries(db, 0, 8)
    view.reload()
    store_deliveries(db, 8, 5)
    view.reload()
    assert stored_ids(view) == {f"d-{n}" for n in range(3, 13)}
    assert view.proxy.rowCount() == 10


def test_the_app_takes_its_loaded_heap_out_of_full_collections_once(qtbot, db, monkeypatch):
    import gc

    from codatdesk import heap

    monkeypatch.setattr(heap, "_settled", False)
    gc.unfreeze()
    try:
        assert heap.settle_after_start()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, Qt wrappers, SQLAlchemy: what a full collection walked
        assert not heap.settle_after_start()  # a company switch or a second window freezes nothing more
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_mapping_reads_only_when_shown_and_again_each_time(qtbot, db, monkeypatch):
    from codatdesk.ui.mapping_view import MappingView
    from tests.ui.helpers import add_expenses

    add_expenses(db, "acme", 3)
    builds: list[str] = []
    reads = StoreReads(db)
    original = reads.mapping_overview
    monkeypatch.setattr(reads, "mapping_overview", lambda company_id: builds.append(company_id) or original(company_id))
    widget = QTabWidget()
    qtbot.addWidget(widget)
    widget.addTab(QWidget(), "Expenses")
    view = MappingView(reads, refresh=lambda _company: None)
    widget.addTab(view, "Mapping")
    widget.show()
    view.set_company("acme")
    assert builds == [] and view.refresh_button.isEnabled()  # Refresh works before the first look
    widget.setCurrentWidget(view)
    assert builds == ["acme"] and ("account", "429") in {(r.kind, r.local_value) for r in view.model.rows}
    widget.setCurrentIndex(0)
    widget.setCurrentWidget(view)
    assert builds == ["acme", "acme"]
