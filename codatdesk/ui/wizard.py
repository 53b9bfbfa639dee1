"""First run: the few settings codatdesk cannot work without, and the API key in the keyring."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWizard, QWizardPage

from codatdesk import secrets
from codatdesk.settings import Settings
from codatdesk.settings_actions import SaveResult, SettingsActions, Standalone
from codatdesk.ui.icons import draw_app_icon
from codatdesk.ui.messages import user_message
from codatdesk.ui.settings_form import KeyringStatus, SettingsForm
from codatdesk.ui.workers import run_in_background

WIZARD_KEYS = ("codat.base_url", "codat.company_id", "codat.connection_id", "listener.port", "listener.path",
               "webhook.require_signature", "webhook.authorization", "reconcile.interval_seconds")
WIZARD_SECRETS = (secrets.API_KEY, secrets.WEBHOOK_SECRETS, secrets.WEBHOOK_BASIC, secrets.WEBHOOK_BEARER)


DEMO_CHOSEN = 2  # exec() result: the user chose the demo instead of setting up

DEMO_TEXT = ("No Codat account yet, or just looking? The demo runs a built-in Codat sandbox with sample expenses "
             "on this computer: nothing is sent anywhere and no keyring is needed.")


def environment_help() -> str:
    """What to set instead of a keyring (a server, a container, a desktop without a keyring)."""
    return ("<b>No keyring? Give the credentials as environment variables</b> and start codatdesk again:"
            "<ul><li><code>CODATDESK_API_KEY</code>: your Codat API key</li>"
            "<li><code>CODATDESK_WEBHOOK_SECRETS</code>: the webhook signing secret from Codat's portal "
            "(several: separated by commas)</li>"
            "<li><code>CODATDESK_WEBHOOK_BASIC</code> (<code>user:password</code>) or "
            "<code>CODATDESK_WEBHOOK_BEARER</code>: only if your webhooks also send an Authorization header</li></ul>"
            "Every setting can be given the same way, e.g. <code>CODATDESK_CODAT_COMPANY_ID</code>.")


def needs_first_run() -> bool:
    """True when no API key is stored (a broken keyring also needs the wizard: it explains the problem)."""
    try:
        return not secrets.get(secrets.API_KEY)
    except secrets.KeyringProblem:
        return True


class _KeyringPage(QWizardPage):
    """Keyring fine: Next to set up. No keyring: this page is the last one and says what to do instead
    (the demo, or environment variables), so Next is never a dead end."""

    def __init__(self, status: KeyringStatus, choose_demo: Callable[[], None]) -> None:
        super().__init__()
        self.setTitle("Welcome to codatdesk")
        self.setSubTitle("codatdesk sends your expenses to your accounting software through Codat and shows, "
                         "row by row, whether they landed.")
        self.status = status
        text = QLabel("First, your Codat API key and the company to push for. The key is kept in your "
                      "system keyring, never in a file.")
        text.setWordWrap(True)
        self.environment = QLabel(environment_help())
        self.environment.setWordWrap(True)
        self.environment.setTextFormat(Qt.TextFormat.RichText)
        self.environment.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.environment.hide()
        demo_box = QGroupBox("Try it first")
        demo_text = QLabel(DEMO_TEXT)
        demo_text.setWordWrap(True)
        self.demo_button = QPushButton("Open the &demo")
        self.demo_button.clicked.connect(choose_demo)
        demo_layout = QVBoxLayout(demo_box)
        demo_layout.addWidget(demo_text)
        demo_layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(status)
        layout.addWidget(self.environment)
        layout.addWidget(demo_box)
        layout.addStretch(1)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Open &without setting up")
        status.checked.connect(self._on_checked)

    def _on_checked(self, ok: bool) -> None:
        self.environment.setVisible(not ok)
        self.setFinalPage(not ok)  # nothing to set up here without a keyring: Finish opens the window
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.status.ok is not None  # checked either way: there is always a way on

    def nextId(self) -> int:
        return -1 if self.status.ok is False else super().nextId()


class _FormPage(QWizardPage):
    def __init__(self, title: str, subtitle: str, page, validate: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self._validate = validate
        layout = QVBoxLayout(self)
        layout.addWidget(page)

    def validatePage(self) -> bool:
        return self._validate() if self._validate else True


class FirstRunWizard(QWizard):
    """On accept, settings are saved and secrets are in the keyring; ``company_name`` is what Codat called it.

    No core runs yet: Codat and the keyring are asked through ``settings_actions.Standalone``."""

    def __init__(self, settings: Settings, *, actions: SettingsActions | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up codatdesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, draw_app_icon(48))
        self.settings = settings
        self.company_name: str | None = None
        self.demo_chosen = False
        self._saved = False
        self.keyring_status = KeyringStatus()
        self.settings_actions = actions or Standalone(settings)
        self.form = SettingsForm(settings, WIZARD_KEYS, secret_names=WIZARD_SECRETS, actions=self.settings_actions,
                                 parent=self)
        self.form.hide()
        self.addPage(_KeyringPage(self.keyring_status, self._choose_demo))
        pages = {title: page for title, _intro, page in self.form.pages()}
        self.addPage(_FormPage("Codat", "Paste your API key, press Test, then choose the company and its "
                                        "accounting connection.", pages["Codat"], self._validate_codat))
        self.addPage(_FormPage("Webhooks", "Codat calls codatdesk with the result of every push. The defaults "
                                           "suit most setups; the signing secret comes from Codat's portal "
                                           "(Settings › Webhooks).", pages["Webhook listener"]))
        self.addPage(_FormPage("Webhook security", "", pages["Webhook security"]))
        self.addPage(_FormPage("Reconciliation", "Finish saves everything.", pages["Reconciliation"],
                               self._save))
        self.keyring_status.check()
        self.resize(700, 560)

    def _choose_demo(self) -> None:
        self.demo_chosen = True
        self.done(DEMO_CHOSEN)

    def _validate_codat(self) -> bool:
        _values, errors = self.form.validate()
        key_typed = bool(self.form.secret_edits[secrets.API_KEY].text().strip())
        if not key_typed:
            self.form.error_labels[secrets.API_KEY].setText("⚠ the API key is required")
            self.form.error_labels[secrets.API_KEY].show()
            return False
        return not any(k.startswith("codat.") for k in errors)

    def _save(self) -> bool:
        """Runs on Finish: the keyring write happens in a worker; the wizard closes when it is done."""
        if self._saved:
            return True
        values, errors = self.form.validate()
        if errors:
            return False
        typed = self.form.secret_values()
        self.company_name = self.form.company_name()
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        actions = self.settings_actions

        def done(result: SaveResult) -> None:
            if not result.ok:
                self._show_save_failure(result.reason, result.fix)
                return
            self._saved = True
            self.accept()

        def failed(error: BaseException) -> None:
            self._show_save_failure(*user_message(error))

        run_in_background(lambda: actions.save_settings(values, typed), done, failed, owner=self)
        return False  # stay open until the worker says it is saved

    def _show_save_failure(self, reason: str, fix: str) -> None:
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self.currentPage().setSubTitle(f"Saving failed — {reason}: {fix}")
