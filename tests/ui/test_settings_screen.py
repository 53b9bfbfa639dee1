"""Settings: server internals wait under a collapsed "Advanced" on their page; an error there opens it."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from codatdesk.settings import Settings
from codatdesk.ui.settings_dialog import SettingsDialog
from codatdesk.ui.settings_form import ADVANCED
from tests.ui.helpers import dark_palette
from tests.ui.shots import save, shots_folder


@pytest.fixture
def dialog(qtbot, tmp_path):
    def make() -> SettingsDialog:
        shown = SettingsDialog(Settings(tmp_path / "settings.json", environ={}))
        qtbot.addWidget(shown)
        shown.show()
        qtbot.waitUntil(lambda: shown.keyring_status.ok is not None, timeout=5000)
        return shown
    return make


def show_tab(dialog: SettingsDialog, title: str) -> None:
    dialog.tabs.setCurrentIndex(next(i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i) == title))
    QApplication.processEvents()


def test_server_internals_are_collapsed_under_advanced(dialog, qapp, tmp_path):
    shown = dialog()
    show_tab(shown, "Webhook listener")
    form = shown.form
    for key in ADVANCED:
        assert not form.fields[key].widget.isVisible(), key
    assert form.fields["listener.port"].widget.isVisible()
    section = form.advanced["listener"]
    port_row = form.fields["listener.port"].widget.mapTo(shown, form.fields["listener.port"].widget.rect().topLeft())
    assert section.mapTo(shown, section.rect().topLeft()).y() > port_row.y()  # below the ordinary fields
    folder = shots_folder(tmp_path)
    save(shown, folder, "settings-listener-collapsed-light")
    section.toggle.click()
    assert form.fields["listener.max_body_bytes"].widget.isVisible()
    save(shown, folder, "settings-listener-advanced-light")
    show_tab(shown, "Pushing")
    assert form.fields["push.timeout_in_minutes"].widget.isVisible()  # a choice of the user's, not an internal
    assert not form.fields["push.concurrency"].widget.isVisible()
    original = QApplication.palette()
    qapp.setPalette(dark_palette())
    try:
        dark = dialog()
        show_tab(dark, "Webhook listener")
        dark.form.advanced["listener"].toggle.click()
        save(dark, folder, "settings-listener-advanced-dark")
    finally:
        qapp.setPalette(original)


def test_revealing_an_advanced_field_opens_its_section(dialog):
    shown = dialog()  # save() reveals every field with an error this way before naming it
    show_tab(shown, "Webhook listener")
    shown.form.reveal("listener.read_timeout")
    assert shown.form.fields["listener.read_timeout"].widget.isVisible()
