"""Mapping, connections and webhook activity views, against the real core and sandbox."""

from __future__ import annotations

from PySide6.QtGui import QDesktopServices
from sqlmodel import Session, select

from codatdesk.events import DeliveryRecorded
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Mapping
from codatdesk.ui.main_window import TAB_ACTIVITY, TAB_CONNECTIONS
from codatdesk.ui.mapping_view import CREATED, MATCHED, NEEDS_YOU
from tests.engine_harness import row


def mapping_rows(window):
    return {(r.kind, r.local_value): r for r in window.mapping.model.rows}


def test_mapping_shows_how_each_value_matches_and_saves_a_hand_mapping(qtbot, harness, window):
    harness.import_rows([row(1), row(2, account="999", name="Brand New Costs"), row(3, account="888", name="")],
                        map_suppliers=False)  # "Supplier 1" is not in the ledger
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    window.tabs.setCurrentIndex(1)
    window.mapping.request_refresh()
    qtbot.waitUntil(lambda: window.mapping.refresh_button.isEnabled()
                    and ("account", "429") in mapping_rows(window)
                    and mapping_rows(window)[("account", "429")].outcome == MATCHED, timeout=10000)
    rows = mapping_rows(window)
    assert rows[("account", "429")].how == "by nominal code"
    assert rows[("account", "999")].outcome == CREATED and rows[("account", "999")].how == "will be created on push"
    assert rows[("account", "888")].outcome == NEEDS_YOU
    assert rows[("bankAccount", "090")].outcome == MATCHED
    assert "keep expenses from being sent until mapped" in window.mapping.summary.text()
    assert rows[("supplier", "Supplier 1")].outcome == NEEDS_YOU  # not pushed until mapped (#12)
    assert rows[("supplier", "Supplier 1")].how.startswith("not pushed: supplier Supplier 1 is not in the ledger's")

    # Map 888 by hand to the first account offered.
    view = window.mapping
    position = view.model.rows.index(rows[("account", "888")])
    view.table.selectRow(view.proxy.mapFromSource(view.model.index(position, 0)).row())
    assert view.choice.count() > 1
    view.choice.setCurrentIndex(1)
    chosen = view.choice.currentData()
    view.save_button.click()
    qtbot.waitUntil(lambda: mapping_rows(window)[("account", "888")].how == "by saved mapping", timeout=5000)
    with Session(harness.core.db) as session:
        mapping = session.exec(select(Mapping).where(Mapping.local_value == "888")).one()
    assert mapping.codat_id == chosen and mapping.kind == "account"


def test_activity_lists_deliveries_and_rejections_and_is_searchable(qtbot, harness, window):
    harness.import_rows([row(1), row(2)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    window.push_ids(window.model.ids())
    qtbot.waitUntil(lambda: all(window.model.row_at(i).status is ExpenseStatus.COMPLETE for i in range(2)),
                    timeout=15000)
    window.tabs.setCurrentIndex(TAB_ACTIVITY)
    activity = window.activity
    qtbot.waitUntil(lambda: sum(r.verdict == "applied" for r in activity.model.rows) >= 2, timeout=5000)
    harness.core.bus.publish(DeliveryRecorded("evil-1", "rejected", "directCosts.write.successful",
                                              "signature does not match"))
    qtbot.waitUntil(lambda: any(r.verdict == "rejected" for r in activity.model.rows), timeout=5000)
    activity.search.setText("signature")
    assert activity.proxy.rowCount() == 1
    activity.search.clear()
    activity.verdict.setCurrentIndex(activity.verdict.findData("applied"))
    assert activity.proxy.rowCount() >= 2
    assert all(activity.proxy.index(r, 2).data() == "applied" for r in range(activity.proxy.rowCount()))
    # Activating a delivery jumps to its expense.
    expense_id = next(r.expense_id for r in activity.model.rows if r.expense_id)
    activity.expenseActivated.emit(expense_id)
    assert window.tabs.currentIndex() == 0 and window.selected_ids() == [expense_id]


def test_connections_view_lists_the_connection_and_reconnect_opens_its_link(qtbot, harness, window, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    window.tabs.setCurrentIndex(TAB_CONNECTIONS)
    window.connections.check_button.setEnabled(True)
    window.check_connection(harness.sandbox.company_id)
    view = window.connections
    qtbot.waitUntil(lambda: any(i.connection_id == harness.sandbox.connection_id and i.status == "Linked"
                                for i in view.infos), timeout=10000)
    info = next(i for i in view.infos if i.connection_id == harness.sandbox.connection_id)
    assert info.chosen
    window.reconnect(info)
    if info.link_url:
        assert opened == [info.link_url]
    else:
        assert window.tabs.currentIndex() == TAB_CONNECTIONS
