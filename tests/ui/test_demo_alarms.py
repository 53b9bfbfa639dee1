"""In the demo nothing alarms about what the demo does not need (a tunnel, a keyring), and "Codat: …"
resolves to the sandbox connection's state."""

from __future__ import annotations

import keyring.errors
from PySide6.QtWidgets import QApplication

from codatdesk.demo import start_demo
from codatdesk.ui.app import DEMO_TUNNEL_TEXT, quiet_demo_alarms
from codatdesk.ui.main_window import MainWindow
from codatdesk.ui.settings_dialog import SettingsDialog, known_names
from tests.ui.helpers import dark_palette
from tests.ui.shots import save, shots_folder


def test_the_demo_shows_no_tunnel_or_keyring_alarm_and_codat_resolves(qtbot, qapp, memory_keyring, tmp_path):
    memory_keyring.fail_with = keyring.errors.NoKeyringError()  # a computer without a keyring
    folder = shots_folder(tmp_path)
    core, cleanup = start_demo(push_delay=0.1)
    window = MainWindow(core, demo=True)
    qtbot.addWidget(window)
    window.resize(1400, 500)
    window.show()
    try:
        quiet_demo_alarms(window, core)
        items = window.health.items
        qtbot.waitUntil(lambda: items["connection"].text.text() not in ("Codat: …", "Codat: not checked yet"),
                        timeout=10_000)
        assert items["connection"].text.text() == "Codat: Linked" and items["connection"].state == "ok"
        assert items["tunnel"].text.text() == DEMO_TUNNEL_TEXT and items["tunnel"].state == "ok"
        save(window.statusBar(), folder, "demo-status-bar-light")

        dialog = SettingsDialog(core.settings, names=known_names(core), demo=True, parent=window)
        qtbot.addWidget(dialog)
        dialog.show()
        assert dialog.demo_note.isVisible() and not dialog.keyring_status.isVisible()
        assert not any(edit.isEnabled() for edit in dialog.form.secret_edits.values())
        save(dialog, folder, "demo-settings-light")
        dialog.reject()
        original = QApplication.palette()
        qapp.setPalette(dark_palette())
        try:
            qtbot.waitUntil(lambda: window.health.items["tunnel"].text.text() == DEMO_TUNNEL_TEXT, timeout=2000)
            save(window.statusBar(), folder, "demo-status-bar-dark")
        finally:
            qapp.setPalette(original)
    finally:
        window._confirmed_close = True
        window.close()
        window.bridge.detach()
        cleanup()
