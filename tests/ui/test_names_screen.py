"""Names, not ids: Settings names the stored company and connection; Connections names the ledger."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from codatdesk.settings import Settings
from codatdesk.ui.main_window import TAB_CONNECTIONS
from codatdesk.ui.settings_dialog import SettingsDialog, known_names
from tests.ui.helpers import dark_palette
from tests.ui.shots import save, shots_folder


def test_settings_and_connections_show_names(qtbot, qapp, harness, window, tmp_path):
    folder = shots_folder(tmp_path)
    core = harness.core
    sandbox = harness.sandbox
    core.check_connection(sandbox.company_id)  # stores the connection and its platform
    companies, connections = known_names(core)
    assert companies.get(sandbox.company_id) and companies[sandbox.company_id] != sandbox.company_id
    assert connections.get(sandbox.connection_id)

    settings = Settings(tmp_path / "settings.json", environ={})
    settings.update({"codat.company_id": sandbox.company_id, "codat.connection_id": sandbox.connection_id})
    dialog = SettingsDialog(settings, names=(companies, connections))
    qtbot.addWidget(dialog)
    dialog.show()
    company = dialog.form.fields["codat.company_id"].widget
    connection = dialog.form.fields["codat.connection_id"].widget
    assert company.currentText().startswith(companies[sandbox.company_id])
    assert connection.currentText().startswith(connections[sandbox.connection_id])
    assert dialog.form.fields["codat.company_id"].value() == sandbox.company_id  # what is saved is still the id
    assert dialog.form.company_name() == companies[sandbox.company_id]
    save(dialog, folder, "settings-codat-names-light")

    window.tabs.setCurrentIndex(TAB_CONNECTIONS)
    view = window.connections
    qtbot.waitUntil(lambda: any(i.connection_id == sandbox.connection_id and i.platform for i in view.infos),
                    timeout=10000)
    view.reload()
    texts = [view.table.item(r, 1).text() for r in range(view.table.rowCount())]
    assert not any(sandbox.connection_id in text for text in texts), texts
    save(view, folder, "connections-light")
    original = QApplication.palette()
    qapp.setPalette(dark_palette())
    try:
        view.reload()
        save(view, folder, "connections-dark")
    finally:
        qapp.setPalette(original)
