"""The settings dialog: every registry setting and secret, one tab per group."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from codatdesk import secrets
from codatdesk.core_api import RESTART_SETTINGS
from codatdesk.settings import Settings
from codatdesk.settings_actions import PREVIOUS_SIGNING_SECRET, SaveResult, SettingsActions
from codatdesk.ui.messages import user_message
from codatdesk.ui.settings_form import KeyringStatus, SettingsForm
from codatdesk.ui.workers import run_in_background

SECRETS = (secrets.API_KEY, secrets.WEBHOOK_SECRETS, PREVIOUS_SIGNING_SECRET, secrets.WEBHOOK_BASIC,
           secrets.WEBHOOK_BEARER, secrets.NGROK_AUTHTOKEN)
RESTART_KEYS = RESTART_SETTINGS  # the core's answer (core_api)


def known_names(core: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Company and connection names the store already has: ``({company id: name}, {connection id: label})``."""
    companies = {choice.id: choice.name for choice in core.companies_to_show() if choice.name}
    connections = {info.connection_id: " · ".join(p for p in (info.platform, info.status) if p)
                   for info in core.connections() if info.connection_id and info.platform}
    return companies, connections


DEMO_NOTE = ("Demo: codatdesk talks to its built-in Codat sandbox with the sandbox's own key, so nothing here "
             "uses your keyring or a tunnel. Changes apply to the demo only.")


class SettingsDialog(QDialog):
    """``saved`` carries (changed setting keys, changed secret names, company name or None).

    ``actions``: the running core (``CoreAPI``); without one, ``settings_actions.Standalone``."""

    saved = Signal(object, object, object)

    def __init__(self, settings: Settings, *, actions: SettingsActions | None = None,
                 names: tuple[dict[str, str], dict[str, str]] = ({}, {}), demo: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.keyring_status = KeyringStatus()
        # The form owns the fields' logic; its pages live in the tabs. Parenting it to the dialog makes
        # late worker results die with the dialog instead of reaching deleted widgets.
        self.form = SettingsForm(settings, secret_names=SECRETS, actions=actions, parent=self)
        self.form.hide()
        self.form.show_known_names(*names)  # "Demo Company Ltd (id)", not a bare id
        self.tabs = QTabWidget()
        for title, _intro, page in self.form.pages():
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, title)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        self.demo_note = QLabel(DEMO_NOTE)
        self.demo_note.setWordWrap(True)
        self.demo_note.setVisible(demo)
        layout.addWidget(self.demo_note)
        layout.addWidget(self.keyring_status)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(680, 600)
        if demo:  # the demo's credentials are the sandbox's: the keyring is neither needed nor written
            self.keyring_status.hide()
            self.form.set_secrets_enabled(False)
        else:
            self.keyring_status.checked.connect(self._on_keyring_checked)
            self.keyring_status.check()

    def _on_keyring_checked(self, ok: bool) -> None:
        self.form.set_secrets_enabled(ok)
        if ok:
            self.form.load_stored_secrets()

    def save(self) -> None:
        values, errors = self.form.validate()
        if errors:
            self.message.setText(f"Please fix {len(errors)} field(s) first: " + ", ".join(sorted(errors)))
            for key in errors:
                self.form.reveal(key)
            for index in range(self.tabs.count()):  # show the first page with a problem
                page = self.tabs.widget(index)
                if any(page.isAncestorOf(self.form.error_labels[k]) for k in errors):
                    self.tabs.setCurrentIndex(index)
                    break
            return
        typed = self.form.secret_values()
        if typed and self.keyring_status.ok is False:
            self.message.setText("The keyring cannot be used, so the credentials you typed cannot be saved. "
                                 "Fix the keyring (see the top of this window) or clear those fields.")
            return
        company_name = self.form.company_name()
        self.buttons.setEnabled(False)
        self.message.setText("Saving…")
        actions = self.form.settings_actions

        def done(result: SaveResult) -> None:
            if not result.ok:
                self._show_save_failure(result.reason, result.fix)
                return
            changed = set(result.changed)
            self.saved.emit(changed, set(result.secrets_changed), company_name)
            if changed & RESTART_KEYS:
                self.message.setText("Saved. Listener and tunnel changes take effect the next time codatdesk starts.")
            self.accept()

        def failed(error: BaseException) -> None:
            self._show_save_failure(*user_message(error))

        run_in_background(lambda: actions.save_settings(values, typed), done, failed, owner=self)

    def _show_save_failure(self, reason: str, fix: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(f"Nothing was lost, but saving failed. {reason}: {fix}")
