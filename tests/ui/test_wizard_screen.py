"""First run without a keyring: the wizard offers the demo, names the CODATDESK_* variables, and never
leaves Next disabled with nothing to do."""

from __future__ import annotations

import keyring.errors
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWizard

from codatdesk.settings import Settings
from codatdesk.ui.wizard import DEMO_CHOSEN, FirstRunWizard
from tests.ui.helpers import dark_palette
from tests.ui.shots import save, shots_folder


@pytest.fixture
def wizard(qtbot, tmp_path):
    def make() -> FirstRunWizard:
        wizard = FirstRunWizard(Settings(tmp_path / "settings.json", environ={}))
        qtbot.addWidget(wizard)
        wizard.show()
        qtbot.waitUntil(lambda: wizard.keyring_status.ok is not None, timeout=5000)
        return wizard
    return make


def test_without_a_keyring_it_explains_the_environment_and_offers_the_demo(qtbot, qapp, wizard, memory_keyring,
                                                                           tmp_path):
    memory_keyring.fail_with = keyring.errors.NoKeyringError()
    folder = shots_folder(tmp_path)
    first = wizard()
    page = first.currentPage()
    assert page.environment.isVisible()
    for variable in ("CODATDESK_API_KEY", "CODATDESK_WEBHOOK_SECRETS", "CODATDESK_WEBHOOK_BASIC"):
        assert variable in page.environment.text()
    assert page.demo_button.isVisible() and page.demo_button.isEnabled()
    assert first.button(QWizard.WizardButton.FinishButton).isEnabled()  # a way on that is not the demo
    save(first, folder, "wizard-no-keyring-light")
    original = QApplication.palette()
    qapp.setPalette(dark_palette())
    try:
        dark = wizard()
        save(dark, folder, "wizard-no-keyring-dark")
    finally:
        qapp.setPalette(original)


def test_the_demo_button_ends_the_wizard_with_the_demo_chosen(qtbot, wizard, memory_keyring):
    shown = wizard()
    QTimer.singleShot(0, shown.currentPage().demo_button.click)
    assert shown.exec() == DEMO_CHOSEN
    assert shown.demo_chosen


def test_with_a_keyring_next_is_enabled_once_checked(wizard, memory_keyring):
    shown = wizard()
    assert shown.keyring_status.ok is True
    assert not shown.currentPage().environment.isVisible()
    assert shown.button(QWizard.WizardButton.NextButton).isEnabled()
