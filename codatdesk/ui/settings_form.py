"""Settings widgets generated from ``codatdesk.settings.REGISTRY`` plus the keyring secrets.

One generator backs both the first-run wizard and the settings dialog, so a new
setting in the registry appears in both with its type, limits and help text.
Secrets go to the keyring only (``codatdesk.secrets``), never to the settings file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from codatdesk import secrets
from codatdesk.settings import BY_KEY, REGISTRY, Setting, SettingError, Settings
from codatdesk.settings_actions import PREVIOUS_SIGNING_SECRET, CheckResult, SettingsActions, Standalone, stored_secrets
from codatdesk.states import ExpenseStatus
from codatdesk.ui.messages import KEYRING_TITLES, user_message
from codatdesk.ui.status_style import is_dark_palette, status_pixmap, style_for
from codatdesk.ui.workers import run_in_background

log = logging.getLogger(__name__)

GROUPS = {  # key prefix -> (page title, intro)
    "codat": ("Codat", "Your Codat account and the company whose expenses you push."),
    "listener": ("Webhook listener", "Codat tells codatdesk the result of each push by calling this address."),
    "webhook": ("Webhook security", "How codatdesk knows a webhook really comes from Codat."),
    "push": ("Pushing", "How expenses are sent."),
    "reconcile": ("Reconciliation", "A safety net for webhooks that never arrive."),
    "tunnel": ("Tunnel", "Makes the listener reachable from the internet, so Codat can call it."),
}
HIDDEN = {"ui.last_company_id"}
# Server internals: the defaults suit nearly everyone, so they wait under a collapsed "Advanced" on their page.
ADVANCED = {"listener.max_body_bytes", "listener.read_timeout", "listener.max_concurrency", "push.concurrency",
            "reconcile.threshold_seconds", "tunnel.health_interval_seconds"}


class AdvancedSection(QWidget):
    """A collapsed "Advanced" part at the bottom of a page: a toggle, then its own form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("Advanced: server limits, timeouts and worker counts")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.body.hide()
        self.toggle.toggled.connect(self.set_expanded)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)

    def set_expanded(self, expanded: bool) -> None:
        self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)
LABELS = {
    "codat.base_url": "API &base URL", "codat.company_id": "C&ompany", "codat.connection_id": "Accounting c&onnection",
    "codat.reference_max_age_hours": "Re-read Codat's &lists after (hours)",
    "listener.port": "&Port", "listener.path": "&Path", "listener.max_body_bytes": "Largest &body (bytes)",
    "listener.read_timeout": "&Read timeout (s)", "listener.max_concurrency": "&Concurrent requests",
    "webhook.require_signature": "Require a valid &signature", "webhook.authorization": "Also require an &Authorization header",
    "push.concurrency": "&Concurrent requests", "push.timeout_in_minutes": "Codat &timeout (minutes)",
    "reconcile.interval_seconds": "Check &every (seconds)", "reconcile.threshold_seconds": "Check pushes &older than (s)",
    "tunnel.provider": "&Provider", "tunnel.public_url": "Public &URL", "tunnel.hostname": "Stable &hostname",
    "tunnel.cloudflared_path": "&cloudflared program", "tunnel.ngrok_path": "&ngrok program",
    "tunnel.health_interval_seconds": "&Health check every (s)",
}
SECRET_LABELS = {
    secrets.API_KEY: "Codat &API key",
    secrets.WEBHOOK_SECRETS: "Signing &secret",
    PREVIOUS_SIGNING_SECRET: "Previous signing secret",
    secrets.WEBHOOK_BASIC: "Basic &user:password",
    secrets.WEBHOOK_BEARER: "Bearer &token",
    secrets.NGROK_AUTHTOKEN: "ngrok auth &token",
}


def label_for(setting: Setting) -> str:
    return LABELS.get(setting.key) or setting.key.split(".")[-1].replace("_", " ").capitalize()


@dataclass
class SettingField:
    """One registry setting, its widget and how to read it back."""

    setting: Setting
    widget: QWidget

    def set_value(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(w.minimum() if value is None else int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        elif isinstance(w, QComboBox):
            position = w.findData(value)
            if position < 0 and w.isEditable():
                w.setEditText("" if value is None else str(value))
            else:
                w.setCurrentIndex(max(0, position))
        elif isinstance(w, QLineEdit):
            w.setText("" if value is None else str(value))

    def raw_value(self) -> Any:
        w = self.widget
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            # A setting whose default is "empty" uses the minimum as "not set" (special value text).
            return None if w.property("minimumMeansEmpty") and w.value() == w.minimum() else w.value()
        if isinstance(w, QDoubleSpinBox):
            return w.value()
        if isinstance(w, QComboBox):
            if w.isEditable():
                data = w.currentData()
                text = w.currentText().strip()
                if data is not None and w.itemText(w.currentIndex()) == text:
                    return data
                return text
            return w.currentData()
        if isinstance(w, QLineEdit):
            return w.text()
        raise TypeError(w)

    def value(self) -> Any:
        return self.setting.coerce(self.raw_value())


def make_widget(setting: Setting) -> QWidget:
    if setting.type is bool:
        return QCheckBox()
    if setting.choices:
        combo = QComboBox()
        for choice in setting.choices:
            combo.addItem(choice, choice)
        return combo
    if setting.type is int:
        spin = QSpinBox()
        low = int(setting.minimum) if setting.minimum is not None else 0
        high = int(setting.maximum) if setting.maximum is not None else 2_000_000_000
        if setting.default is None:  # "empty" is a real choice: shown as the special value below the minimum
            spin.setRange(low - 1, high)
            spin.setSpecialValueText("Codat's default" if setting.key == "push.timeout_in_minutes" else "not set")
            spin.setProperty("minimumMeansEmpty", True)
        else:
            spin.setRange(low, high)
            if setting.key == "listener.port" and low == 0:
                spin.setSpecialValueText("any free port")
        spin.setGroupSeparatorShown(setting.key != "listener.port")
        spin.setMinimumWidth(140)
        return spin
    if setting.type is float:
        spin = QDoubleSpinBox()
        spin.setDecimals(1)
        spin.setRange(setting.minimum if setting.minimum is not None else 0.0,
                      setting.maximum if setting.maximum is not None else 1e9)
        return spin
    if setting.key in ("codat.company_id", "codat.connection_id"):
        combo = QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        combo.setMinimumContentsLength(24)
        combo.lineEdit().setPlaceholderText("press Test connection, or paste the id")
        return combo
    return QLineEdit()


def secret_edit(placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText(placeholder)
    reveal = QAction("Show", edit)
    reveal.setCheckable(True)
    reveal.setToolTip("Show or hide what you typed")
    reveal.toggled.connect(lambda on: edit.setEchoMode(QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
    edit.addAction(reveal, QLineEdit.ActionPosition.TrailingPosition)
    edit.setProperty("revealAction", reveal)
    return edit


class KeyringStatus(QFrame):
    """Says whether credentials can be stored, in words a user can act on."""

    checked = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyringStatus")
        self.ok: bool | None = None
        self.kind = ""
        self.icon = QLabel()
        self.title = QLabel()
        self.title.setObjectName("keyringTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry = QPushButton("Check &again")
        self.retry.clicked.connect(self.check)
        column = QVBoxLayout()
        column.addWidget(self.title)
        column.addWidget(self.text)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(column, 1)
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignTop)
        self._show("busy", "Checking the keyring…", "")

    def check(self) -> None:
        self._show("busy", "Checking the keyring…", "")
        run_in_background(secrets.check_backend, self._on_ok, self._on_problem, owner=self)

    def _on_ok(self, backend: str) -> None:
        self.ok, self.kind = True, ""
        self._show("ok", "Credentials are stored in your system keyring",
                   f"Backend: {backend}. They never go into the settings file.")
        self.checked.emit(True)

    def _on_problem(self, error: BaseException) -> None:
        self.ok = False
        self.kind = getattr(error, "kind", "failed")
        title, text = user_message(error)
        if not isinstance(error, secrets.KeyringProblem):
            title = KEYRING_TITLES["failed"]
        self._show("bad", title, text + " codatdesk does not store credentials in plain text, so they cannot be "
                   "saved until this is fixed.")
        self.checked.emit(False)

    def _show(self, state: str, title: str, text: str) -> None:
        look = {"ok": ExpenseStatus.COMPLETE, "bad": ExpenseStatus.FAILED, "busy": ExpenseStatus.IN_PROGRESS}[state]
        dark = is_dark_palette()
        tones = style_for(look).tones(dark)
        self.setStyleSheet(f"#keyringStatus {{ background: {tones.background}; border-radius: 4px; }} "
                           f"#keyringStatus QLabel {{ color: {tones.text}; }}")
        self.icon.setPixmap(status_pixmap(look, dark, 20, self.devicePixelRatioF()))
        self.title.setText(f"<b>{title}</b>")
        self.text.setText(text)
        self.text.setVisible(bool(text))
        self.retry.setVisible(state == "bad")
        self.setAccessibleDescription(f"{title}. {text}")


class SettingsForm(QWidget):
    """The fields for some registry keys (and secrets), one ``QFormLayout`` per group page.

    ``pages()`` yields (title, intro, widget) so the dialog can put them in tabs and
    the wizard on pages. Companies and connections are loaded from Codat on demand, through
    ``actions`` (the core's, or ``settings_actions.Standalone`` before a core exists): the form only
    shows what they answer.
    """

    def __init__(self, settings: Settings, keys: Iterable[str] | None = None, *,
                 secret_names: Iterable[str] = (), actions: SettingsActions | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.settings_actions = actions or Standalone(settings)
        wanted = list(keys) if keys is not None else [s.key for s in REGISTRY if s.key not in HIDDEN]
        self.fields: dict[str, SettingField] = {}
        self.secret_edits: dict[str, QLineEdit] = {}
        self.error_labels: dict[str, QLabel] = {}
        self._pages: dict[str, tuple[QWidget, QFormLayout]] = {}
        self.advanced: dict[str, AdvancedSection] = {}  # group -> its collapsed section (groups that have one)
        self._stored: dict[str, bool] = {}
        secret_names = list(secret_names)
        for key in wanted:
            if key == "codat.company_id":
                # Key first, then Test, then what the test fills in: the order one fills the form in.
                if secrets.API_KEY in secret_names:
                    secret_names.remove(secrets.API_KEY)
                    self._add_secret(secrets.API_KEY)
                self._add_codat_loader()
            setting = BY_KEY[key]
            field = SettingField(setting, make_widget(setting))
            field.set_value(settings.get(key))
            self.fields[key] = field
            self._add_row(key.split(".")[0], label_for(setting), field.widget, setting.doc, key)
        for name in secret_names:
            self._add_secret(name)
        if "codat.company_id" in self.fields:
            company = self.fields["codat.company_id"].widget
            assert isinstance(company, QComboBox)
            company.activated.connect(lambda _i: self.load_connections())
        if "webhook.authorization" in self.fields:
            combo = self.fields["webhook.authorization"].widget
            assert isinstance(combo, QComboBox)
            combo.currentIndexChanged.connect(self._update_auth_visibility)
            self._update_auth_visibility()

    # -- building ---------------------------------------------------------------------

    def _page(self, group: str) -> QFormLayout:
        if group not in self._pages:
            page = QWidget()
            form = QFormLayout(page)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            intro = QLabel(GROUPS.get(group, (group, ""))[1])
            intro.setWordWrap(True)
            form.addRow(intro)
            self._pages[group] = (page, form)
        return self._pages[group][1]

    def _advanced_form(self, group: str) -> QFormLayout:
        if group not in self.advanced:
            section = self.advanced[group] = AdvancedSection()
            self._page(group).addRow(section)
        return self.advanced[group].form

    def reveal(self, key: str) -> None:
        """Open the Advanced section holding ``key`` (a field with an error must be seen)."""
        group = key.split(".")[0]
        if key in ADVANCED and group in self.advanced:
            self.advanced[group].set_expanded(True)

    def _add_row(self, group: str, label_text: str, widget: QWidget, doc: str, key: str) -> None:
        form = self._advanced_form(group) if key in ADVANCED else self._page(group)
        label = QLabel(label_text)
        label.setBuddy(widget)
        widget.setToolTip(doc)
        widget.setAccessibleDescription(doc)
        help_text = QLabel(doc)
        help_text.setWordWrap(True)
        help_text.setObjectName("settingHelp")
        font = help_text.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        help_text.setFont(font)
        # Expanding: the row then takes the full width, so the help wraps there instead of
        # under a narrow checkbox or combo (where it would be clipped).
        help_text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        error = QLabel()
        error.setWordWrap(True)
        error.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        error.hide()
        self.error_labels[key] = error
        column = QVBoxLayout()
        column.setSpacing(1)
        column.addWidget(widget)
        column.addWidget(help_text)
        column.addWidget(error)
        section = self.advanced.get(group)
        if form is self._pages[group][1] and section is not None:  # ordinary rows stay above "Advanced"
            row, _role = form.getWidgetPosition(section)
            form.insertRow(row, label, column)
        else:
            form.addRow(label, column)
        widget.setProperty("formLabel", label)
        widget.setProperty("formHelp", help_text)

    def _add_secret(self, name: str) -> None:
        docs = {
            secrets.API_KEY: "From the Codat portal (Developers › API keys). Kept in your system keyring.",
            secrets.WEBHOOK_SECRETS: "The webhook consumer's signing secret (whsec_…) from the Codat portal.",
            PREVIOUS_SIGNING_SECRET: "During a rotation Codat signs with the old secret for a while: "
                                               "keep it here until the rotation is over.",
            secrets.WEBHOOK_BASIC: "Only for Basic authorization: the user:password Codat sends.",
            secrets.WEBHOOK_BEARER: "Only for Bearer authorization: the token Codat sends.",
            secrets.NGROK_AUTHTOKEN: "Your ngrok account's auth token.",
        }
        group = {secrets.API_KEY: "codat", secrets.NGROK_AUTHTOKEN: "tunnel"}.get(name, "webhook")
        edit = secret_edit()
        self.secret_edits[name] = edit
        self._add_row(group, SECRET_LABELS[name], edit, docs[name], name)

    def _add_codat_loader(self) -> None:
        form = self._page("codat")
        self.load_button = QPushButton("&Test connection and load companies")
        self.load_button.setToolTip("Check the API key with Codat and list its companies")
        self.load_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setObjectName("testResult")
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.test_result, 1)
        form.addRow(row)
        self.companies: list[dict] = []

    def pages(self) -> list[tuple[str, str, QWidget]]:
        return [(GROUPS.get(group, (group, ""))[0], GROUPS.get(group, ("", ""))[1], page)
                for group, (page, _form) in self._pages.items()]

    def _update_auth_visibility(self) -> None:
        mode = self.fields["webhook.authorization"].raw_value()
        for name, wanted in ((secrets.WEBHOOK_BASIC, "basic"), (secrets.WEBHOOK_BEARER, "bearer")):
            edit = self.secret_edits.get(name)
            if edit is not None:
                for widget in (edit, edit.property("formLabel"), edit.property("formHelp")):
                    widget.setVisible(mode == wanted)

    # -- secrets ----------------------------------------------------------------------

    def load_stored_secrets(self, on_done: Callable[[], None] | None = None) -> None:
        """Show which secrets are stored (placeholders only: values stay in the keyring)."""
        names = list(self.secret_edits)

        def show(stored: dict[str, bool]) -> None:
            self._stored = stored
            for name, edit in self.secret_edits.items():
                edit.setPlaceholderText("stored in the keyring — type to replace" if stored.get(name) else "")
            if on_done:
                on_done()

        run_in_background(lambda: stored_secrets(names), show, lambda _e: None, owner=self)

    def secret_values(self) -> dict[str, str]:
        """Only what the user typed (an empty field keeps the stored value)."""
        return {name: edit.text().strip() for name, edit in self.secret_edits.items() if edit.text().strip()}

    def set_secrets_enabled(self, enabled: bool) -> None:
        for edit in self.secret_edits.values():
            edit.setEnabled(enabled)

    # -- validation and values -----------------------------------------------------------

    def validate(self) -> tuple[dict[str, Any], dict[str, str]]:
        values, errors = {}, {}
        for key, field in self.fields.items():
            try:
                values[key] = field.value()
            except SettingError as exc:
                errors[key] = str(exc).split(": ", 1)[-1]
        basic = self.secret_edits.get(secrets.WEBHOOK_BASIC)
        if basic is not None and basic.text().strip() and ":" not in basic.text():
            errors[secrets.WEBHOOK_BASIC] = "write it as user:password"
        signing = self.secret_edits.get(secrets.WEBHOOK_SECRETS)
        if signing is not None and signing.text().strip() and not signing.text().strip().startswith("whsec_"):
            errors[secrets.WEBHOOK_SECRETS] = "Codat's signing secrets start with whsec_"
        mode = values.get("webhook.authorization")
        for name, wanted in ((secrets.WEBHOOK_BASIC, "basic"), (secrets.WEBHOOK_BEARER, "bearer")):
            edit = self.secret_edits.get(name)
            if edit is not None and mode == wanted and not edit.text().strip() and not self._stored.get(name):
                errors[name] = f"needed for {wanted} authorization"
        dark = is_dark_palette()
        tones = style_for(ExpenseStatus.FAILED).tones(dark)
        for key, label in self.error_labels.items():
            label.setText(f"⚠ {errors[key]}" if key in errors else "")
            label.setStyleSheet(f"color: {tones.text}; background: {tones.background}; padding: 1px 4px;")
            label.setVisible(key in errors)
        return values, errors

    # -- Codat lookups ----------------------------------------------------------------------

    def _api_key_and_url(self) -> tuple[str | None, str]:
        typed = self.secret_edits.get(secrets.API_KEY)
        key = typed.text().strip() if typed is not None else ""
        url_field = self.fields.get("codat.base_url")
        url = url_field.raw_value() if url_field else self.settings.get("codat.base_url")
        return key or None, url

    def test_connection(self) -> None:
        typed_key, base_url = self._api_key_and_url()
        self.load_button.setEnabled(False)
        self._set_result("busy", "Asking Codat…")
        actions = self.settings_actions
        run_in_background(lambda: actions.check_api_key(base_url, typed_key), self._show_companies,
                          self._test_failed, owner=self)

    def _show_companies(self, answer: CheckResult) -> None:
        self.load_button.setEnabled(True)
        if not answer.ok:
            self._set_result("bad", f"{answer.reason}: {answer.fix}")
            return
        companies = list(answer.items)
        self.companies = companies
        self._set_result("ok", f"Connected to Codat: {len(companies)} compan{'y' if len(companies) == 1 else 'ies'}.")
        combo = self.fields["codat.company_id"].widget
        assert isinstance(combo, QComboBox)
        current = self.fields["codat.company_id"].raw_value() or self.settings.get("codat.company_id")
        combo.clear()
        for company in companies:
            combo.addItem(f"{company.get('name') or company.get('id')}  ({company.get('id')})", company.get("id"))
        position = combo.findData(current) if current else -1
        combo.setCurrentIndex(position if position >= 0 else (0 if companies else -1))
        if companies:
            self.load_connections()

    def _test_failed(self, error: BaseException) -> None:
        self.load_button.setEnabled(True)
        title, text = user_message(error)
        self._set_result("bad", f"{title}: {text}")

    def _set_result(self, state: str, text: str) -> None:
        look = {"ok": ExpenseStatus.COMPLETE, "bad": ExpenseStatus.FAILED, "busy": ExpenseStatus.IN_PROGRESS}[state]
        tones = style_for(look).tones(is_dark_palette())
        self.test_result.setStyleSheet(f"color: {tones.text}; background: {tones.background}; padding: 2px 6px;")
        self.test_result.setText(text)
        self.test_result.setProperty("state", state)

    def show_known_names(self, companies: dict[str, str], connections: dict[str, str]) -> None:
        """Name the stored company and connection before Codat is asked (Test fills in the full lists)."""
        for key, names in (("codat.company_id", companies), ("codat.connection_id", connections)):
            field = self.fields.get(key)
            combo = field.widget if field else None
            if not isinstance(combo, QComboBox) or combo.count():
                continue
            current = field.raw_value()
            if current and current in names:
                combo.addItem(f"{names[current]}  ({current})", current)
                combo.setCurrentIndex(0)
                if combo.lineEdit() is not None:
                    combo.lineEdit().setCursorPosition(0)  # the name first; a long id may be cut, not the name
        if companies:
            self.companies = [{"id": cid, "name": name} for cid, name in companies.items()]

    def company_name(self) -> str | None:
        company_id = self.fields["codat.company_id"].raw_value() if "codat.company_id" in self.fields else None
        for company in getattr(self, "companies", []):
            if company.get("id") == company_id:
                return company.get("name")
        return None

    def load_connections(self) -> None:
        if "codat.connection_id" not in self.fields:
            return
        company_id = self.fields["codat.company_id"].raw_value()
        if not company_id:
            return
        typed_key, base_url = self._api_key_and_url()
        actions = self.settings_actions
        run_in_background(lambda: actions.list_codat_connections(base_url, typed_key, company_id),
                          self._show_connections, self._test_failed, owner=self)

    def _show_connections(self, answer: CheckResult) -> None:
        if not answer.ok:
            self._set_result("bad", f"{answer.reason}: {answer.fix}")
            return
        combo = self.fields["codat.connection_id"].widget
        assert isinstance(combo, QComboBox)
        current = self.fields["codat.connection_id"].raw_value() or self.settings.get("codat.connection_id")
        combo.clear()
        offered = answer.items  # accounting connections only, Linked first
        for conn in offered:
            platform = conn.get("platformName") or conn.get("integrationKey") or "?"
            combo.addItem(f"{platform} · {conn.get('status', '?')}  ({conn.get('id')})", conn.get("id"))
        position = combo.findData(current) if current else -1
        if position < 0:  # Linked ones come first
            position = 0 if offered else -1
        combo.setCurrentIndex(position)

