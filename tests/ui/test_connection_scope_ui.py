"""The connection picker offers accounting connections only; the activity view counts the
webhooks dropped because they were for companies this app does not serve."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QComboBox

from codatdesk.settings import Settings
from codatdesk.settings_actions import Standalone
from codatdesk.store.db import session_scope
from codatdesk.store.models import WebhookDelivery
from codatdesk.ui.activity_view import ActivityView
from codatdesk.ui.settings_dialog import SettingsDialog
from tests.ui.fake_core import StoreReads

CONNECTIONS = [
    {"id": "bank-1", "status": "Linked", "sourceType": "Banking", "platformName": "Lloyds Bank"},
    {"id": "ledger-old", "status": "Unlinked", "sourceType": "Accounting", "platformName": "Xero"},
    {"id": "expense-1", "status": "Linked", "sourceType": "Other", "platformName": "Expensify"},
    {"id": "ledger-new", "status": "Linked", "sourceType": "Accounting", "platformName": "Xero"},
]


def save_shot(widget, name: str) -> None:
    folder = os.environ.get("CODATDESK_SHOTS")
    if folder:
        widget.grab().save(os.path.join(folder, name))


class ListsConnections:
    """A Codat client that only lists ``CONNECTIONS``."""

    def list_connections(self, company_id: str) -> list[dict]:
        return CONNECTIONS

    def close(self) -> None:
        pass


@pytest.fixture
def dialog(qtbot, tmp_path):
    settings = Settings(tmp_path / "settings.json", environ={})
    actions = Standalone(settings, client_factory=lambda api_key, base_url: ListsConnections())
    dialog = SettingsDialog(settings, actions=actions)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.keyring_status.ok is not None, timeout=5000)
    return dialog


def load_connections(qtbot, form) -> None:
    form.secret_edits["api_key"].setText("key")
    form.fields["codat.company_id"].set_value("c1")
    form.load_connections()
    combo = form.fields["codat.connection_id"].widget
    qtbot.waitUntil(lambda: combo.count() > 0, timeout=5000)


def test_the_picker_offers_accounting_connections_linked_first(qtbot, dialog):
    form = dialog.form
    load_connections(qtbot, form)
    combo = form.fields["codat.connection_id"].widget
    assert isinstance(combo, QComboBox)
    assert [combo.itemData(i) for i in range(combo.count())] == ["ledger-new", "ledger-old"]
    assert combo.currentData() == "ledger-new"  # a Linked accounting connection, not the first Linked one
    combo.showPopup()
    save_shot(combo.view().window(), "connection-picker.png")
    combo.hidePopup()


def test_a_chosen_bank_connection_is_not_kept(qtbot, dialog):
    dialog.settings.set("codat.connection_id", "bank-1", save=False)
    load_connections(qtbot, dialog.form)
    assert dialog.form.fields["codat.connection_id"].widget.currentData() == "ledger-new"


def test_the_activity_view_counts_dropped_deliveries(qtbot, db):
    with session_scope(db) as session:
        session.add_all([WebhookDelivery(delivery_id=f"d-{n}", event_type="connection.connected", body=b"{}",
                                         verdict="dropped", verdict_detail="company other is not served by "
                                         "codatdesk", company_id="other") for n in range(3)]
                        + [WebhookDelivery(delivery_id="ours", event_type="directCosts.write.successful",
                                           body=b"{}", verdict="applied")])
    view = ActivityView(StoreReads(db))
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=5000)
    assert view.dropped_label.isVisible()
    assert view.dropped_label.text().startswith("3 deliveries for other Codat companies dropped")
    view.layout().activate()
    assert view.dropped_label.geometry().bottom() < view.table.geometry().top()  # above the table, full width
    save_shot(view, "activity-dropped.png")
