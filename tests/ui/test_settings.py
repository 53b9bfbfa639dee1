"""Settings dialog and first-run wizard: generated from the registry, secrets only in the keyring."""

from __future__ import annotations

import json

import keyring.errors
import pytest
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QSpinBox, QWizard

from codatdesk import secrets
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.settings import BY_KEY, REGISTRY, Settings
from codatdesk.ui.settings_dialog import SettingsDialog
from codatdesk.ui.settings_form import HIDDEN
from codatdesk.ui.wizard import FirstRunWizard, needs_first_run


@pytest.fixture
def settings(tmp_path):
    return Settings(tmp_path / "settings.json", environ={})


@pytest.fixture
def sandbox():
    sb = Sandbox(SandboxConfig(push_delay=0.05, seed=1))
    server = SandboxServer(sb, port=0).start()
    yield sb, server
    server.stop()
    sb.shutdown()


def open_dialog(qtbot, settings) -> SettingsDialog:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.keyring_status.ok is not None, timeout=5000)
    return dialog


def test_every_registry_setting_has_a_field_with_its_limits(qtbot, settings):
    dialog = open_dialog(qtbot, settings)
    assert set(dialog.form.fields) == {s.key for s in REGISTRY} - HIDDEN
    port = dialog.form.fields["listener.port"].widget
    limits = BY_KEY["listener.port"]
    assert isinstance(port, QSpinBox) and (port.minimum(), port.maximum()) == (limits.minimum, limits.maximum)
    auth = dialog.form.fields["webhook.authorization"].widget
    assert isinstance(auth, QComboBox) and [auth.itemData(i) for i in range(auth.count())] == list(
        BY_KEY["webhook.authorization"].choices)
    timeout = dialog.form.fields["push.timeout_in_minutes"].widget
    assert timeout.specialValueText() == "Codat's default" and dialog.form.fields["push.timeout_in_minutes"].value() is None


def test_settings_dialog_saves_settings_and_secrets_to_the_keyring(qtbot, settings, memory_keyring, tmp_path):
    dialog = open_dialog(qtbot, settings)
    assert dialog.keyring_status.ok is True
    form = dialog.form
    form.secret_edits[secrets.API_KEY].setText("  key-123  ")
    form.secret_edits[secrets.WEBHOOK_SECRETS].setText("whsec_abc")
    form.fields["listener.port"].widget.setValue(9999)
    form.fields["webhook.authorization"].set_value("bearer")
    form.secret_edits[secrets.WEBHOOK_BEARER].setText("tok-1")
    with qtbot.waitSignal(dialog.saved, timeout=5000) as saved:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    changed, _secrets_changed, _company = saved.args
    assert {"listener.port", "webhook.authorization"} <= changed
    assert memory_keyring.store[("codatdesk", "api_key")] == "key-123"
    assert json.loads(memory_keyring.store[("codatdesk", "webhook_signing_secrets")]) == ["whsec_abc"]
    assert memory_keyring.store[("codatdesk", "webhook_bearer")] == "tok-1"
    on_disk = json.loads((tmp_path / "settings.json").read_text())
    assert on_disk["listener.port"] == 9999
    assert "key-123" not in (tmp_path / "settings.json").read_text()  # secrets never reach the file


def test_invalid_values_are_explained_and_nothing_is_saved(qtbot, settings, memory_keyring):
    dialog = open_dialog(qtbot, settings)
    dialog.form.fields["listener.path"].set_value("")
    dialog.form.fields["webhook.authorization"].set_value("basic")
    dialog.form.secret_edits[secrets.WEBHOOK_BASIC].setText("no-colon")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible()
    assert "user:password" in dialog.form.error_labels[secrets.WEBHOOK_BASIC].text()
    assert ("codatdesk", "webhook_basic") not in memory_keyring.store


@pytest.mark.parametrize("error, title", [
    (keyring.errors.NoKeyringError(), "No keyring on this computer"),
    (keyring.errors.KeyringLocked("locked"), "The keyring is locked"),
    (RuntimeError("dbus said no"), "The keyring did not work"),
], ids=["unavailable", "locked", "failed"])
def test_an_unusable_keyring_is_explained_and_nothing_falls_back_to_plaintext(qtbot, settings, memory_keyring,
                                                                              tmp_path, error, title):
    memory_keyring.fail_with = error
    dialog = open_dialog(qtbot, settings)
    status = dialog.keyring_status
    assert status.ok is False
    assert title in status.title.text()
    assert status.retry.isVisibleTo(dialog)
    assert not dialog.form.secret_edits[secrets.API_KEY].isEnabled()
    if status.kind == "unavailable":
        assert "Secret Service" in status.text.text()
    elif status.kind == "locked":
        assert "Unlock" in status.text.text()
    # Fixing the keyring and pressing "Check again" recovers.
    memory_keyring.fail_with = None
    status.retry.click()
    qtbot.waitUntil(lambda: status.ok is True, timeout=5000)
    assert dialog.form.secret_edits[secrets.API_KEY].isEnabled()


def test_test_connection_lists_companies_and_connections_from_codat(qtbot, settings, sandbox):
    sb, server = sandbox
    dialog = open_dialog(qtbot, settings)
    form = dialog.form
    form.fields["codat.base_url"].set_value(server.base_url)
    form.secret_edits[secrets.API_KEY].setText("wrong-key")
    form.load_button.click()
    qtbot.waitUntil(lambda: form.test_result.property("state") == "bad", timeout=10000)
    assert "refused the API key" in form.test_result.text()
    form.secret_edits[secrets.API_KEY].setText(sb.api_key)
    form.load_button.click()
    qtbot.waitUntil(lambda: form.test_result.property("state") == "ok", timeout=10000)
    companies = form.fields["codat.company_id"].widget
    assert sb.company_id in [companies.itemData(i) for i in range(companies.count())]
    companies.setCurrentIndex(companies.findData(sb.company_id))
    form.load_connections()
    connections = form.fields["codat.connection_id"].widget
    qtbot.waitUntil(lambda: connections.findData(sb.connection_id) >= 0, timeout=10000)
    assert form.fields["codat.connection_id"].value() == sb.connection_id


def test_first_run_wizard_stores_the_key_and_the_company(qtbot, settings, sandbox, memory_keyring):
    sb, server = sandbox
    assert needs_first_run()
    wizard = FirstRunWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: wizard.currentPage().isComplete(), timeout=5000)
    wizard.next()
    form = wizard.form
    wizard.next()  # no key yet: stays
    assert wizard.currentId() == 1
    assert "required" in form.error_labels[secrets.API_KEY].text()
    form.fields["codat.base_url"].set_value(server.base_url)
    form.secret_edits[secrets.API_KEY].setText(sb.api_key)
    form.load_button.click()
    connections = form.fields["codat.connection_id"].widget
    qtbot.waitUntil(lambda: connections.findData(sb.connection_id) >= 0, timeout=10000)
    for _ in range(3):
        wizard.next()
    assert wizard.currentId() == 4
    form.secret_edits[secrets.WEBHOOK_SECRETS].setText("whsec_first")
    with qtbot.waitSignal(wizard.accepted, timeout=5000):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert memory_keyring.store[("codatdesk", "api_key")] == sb.api_key
    assert settings.get("codat.company_id") == sb.company_id
    assert settings.get("codat.connection_id") == sb.connection_id
    assert wizard.company_name
    assert not needs_first_run()


def test_the_wizard_cannot_start_on_an_unusable_keyring(qtbot, settings, memory_keyring):
    memory_keyring.fail_with = keyring.errors.NoKeyringError()
    assert needs_first_run()
    wizard = FirstRunWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: wizard.keyring_status.ok is False, timeout=5000)
    # No dead end: no Next into pages whose key could not be saved; Finish opens the window, and the page
    # offers the demo and says which environment variables to set instead.
    assert wizard.currentPage().isComplete() and wizard.currentPage().isFinalPage()
    assert not wizard.button(QWizard.WizardButton.NextButton).isVisible()
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert finish.isVisible() and finish.isEnabled() and "without setting up" in finish.text()


def test_with_a_core_the_dialog_asks_the_core_and_builds_no_client(qtbot, tmp_path):
    from tests.ui.fake_core import FakeCore

    core = FakeCore(tmp_path)
    core.codat_connections = [{"id": "ledger-1", "status": "Linked", "sourceType": "Accounting",
                               "platformName": "Xero"}]
    dialog = SettingsDialog(core.settings, actions=core)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.keyring_status.ok is not None, timeout=5000)
    form = dialog.form
    form.secret_edits[secrets.API_KEY].setText("key-1")
    form.load_button.click()
    connections = form.fields["codat.connection_id"].widget
    qtbot.waitUntil(lambda: connections.findData("ledger-1") >= 0, timeout=5000)
    assert form.test_result.property("state") == "ok"
    assert [name for name, _ in core.calls] == ["check_api_key", "list_codat_connections"]
    form.fields["listener.port"].widget.setValue(9999)
    with qtbot.waitSignal(dialog.saved, timeout=5000) as saved:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert ("save_settings", {secrets.API_KEY}) in core.calls
    assert "listener.port" in saved.args[0] and core.settings.get("listener.port") == 9999
    core.close()
