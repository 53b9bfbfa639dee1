"""The details of the selected expense: push operations, Codat's errors, history, webhooks.

``load_details`` reads everything in one short read-only session (testable without
widgets); ``DetailsPane`` renders it as selectable rich text.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_date, format_money, format_timestamp
from codatdesk.ui.status_style import is_dark_palette, style_for

if TYPE_CHECKING:  # the store is imported when first read, not before the window shows
    from sqlalchemy.engine import Engine

    from codatdesk.store.models import Expense, PushOperation, StatusChange, WebhookDelivery

MAX_DELIVERIES = 200


@dataclass
class ExpenseDetails:
    expense: Expense
    company_name: str
    operations: list[PushOperation] = field(default_factory=list)  # newest first
    history: list[StatusChange] = field(default_factory=list)  # oldest first
    deliveries: list[WebhookDelivery] = field(default_factory=list)  # newest first


def load_details(engine: Engine, expense_id: int) -> ExpenseDetails | None:
    from sqlmodel import or_, select

    from codatdesk.store.db import read_session
    from codatdesk.store.models import Company, Expense, PushOperation, StatusChange, WebhookDelivery

    with read_session(engine) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            return None
        company = session.get(Company, expense.company_id)
        operations = list(session.exec(
            select(PushOperation).where(or_(
                PushOperation.expense_id == expense_id,
                PushOperation.key == (expense.push_operation_key or ""),
                PushOperation.key == (expense.waiting_on_key or ""),
            )).order_by(PushOperation.requested_at.desc())).all())
        keys = {op.key for op in operations} | {k for k in (expense.push_operation_key, expense.waiting_on_key) if k}
        history = list(session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)
                                    .order_by(StatusChange.at, StatusChange.id)).all())
        condition = WebhookDelivery.expense_id == expense_id
        if keys:
            condition = or_(condition, WebhookDelivery.push_operation_key.in_(keys))
        deliveries = list(session.exec(select(WebhookDelivery).where(condition)
                                       .order_by(WebhookDelivery.received_at.desc()).limit(MAX_DELIVERIES)).all())
        session.expunge_all()
    return ExpenseDetails(expense, company.name if company else expense.company_id, operations, history, deliveries)


def validation_messages(raw_json: str | None) -> list[str]:
    """Codat's validation list ``[{itemId, message, validatorName}]`` as readable lines."""
    if not raw_json:
        return []
    try:
        items = json.loads(raw_json)
    except (TypeError, ValueError):
        return [raw_json]
    if isinstance(items, dict):  # {"errors": [...]} shape, tolerated
        items = items.get("errors") or []
    lines = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict):
            message = str(item.get("message") or "").strip() or json.dumps(item)
            where = " · ".join(str(item[k]) for k in ("itemId", "validatorName") if item.get(k))
            lines.append(f"{message} ({where})" if where else message)
        else:
            lines.append(str(item))
    return lines


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def render_html(details: ExpenseDetails, dark: bool) -> str:
    e = details.expense
    status = ExpenseStatus(e.status)
    tones = style_for(status).tones(dark)
    chip = (f'<span style="background:{tones.background}; color:{tones.text}; font-weight:600">'
            f'&nbsp;{_e(status.value)}&nbsp;</span>')
    muted = "#A0A0A0" if dark else "#5A5A5A"
    out = [
        f"<h3 style='margin-bottom:2px'>{_e(e.supplier_name)} — {_e(format_money(e.total, e.currency))} "
        f"{_e(e.currency)}</h3>",
        f"<p style='margin-top:0'>{chip} &nbsp;<span style='color:{muted}'>expense #{e.id} · "
        f"{_e(details.company_name)}</span></p>",
    ]
    if e.status_detail:
        out.append(f"<p><b>{_e(e.status_detail)}</b></p>")
    rows = [("Date", format_date(e.expense_date)), ("Description", e.description),
            ("Account", f"{e.account_code} {('· ' + e.account_name) if e.account_name else ''}"),
            ("Paid from", e.bank_account_code), ("Tax code", e.tax_code),
            ("Net / tax", f"{format_money(e.net, e.currency)} / {format_money(e.tax, e.currency)}"),
            ("Reference", e.reference), ("Push operation key", e.push_operation_key or "—")]
    if e.waiting_on_key:
        rows.append(("Waiting on", e.waiting_on_key))
    out.append(_table(rows))

    out.append("<h4>Push operations</h4>")
    if not details.operations:
        out.append(f"<p style='color:{muted}'>Never pushed.</p>")
    for op in details.operations:
        current = " (current)" if op.key == e.push_operation_key else ""
        out.append(_table([
            ("Key", f"{op.key}{current}"), ("What", op.data_type + (f" creating {op.creates_code}" if op.creates_code else "")),
            ("Codat status", op.status), ("Requested", format_timestamp(op.requested_at)),
            ("Completed", format_timestamp(op.completed_at) or "—"),
            *([("Record id", op.record_id)] if op.record_id else []),
            *([("HTTP status", str(op.status_code))] if op.status_code else []),
        ]))
        if op.error_message:
            out.append(f"<p><b>Codat says:</b> {_e(op.error_message)}</p>")
        errors = validation_messages(op.validation_errors_json)
        if errors:
            out.append("<p><b>Validation errors</b></p><ul>" + "".join(f"<li>{_e(m)}</li>" for m in errors) + "</ul>")
        warnings = validation_messages(op.validation_warnings_json)
        if warnings:
            # On a Success these are all Codat says about the booking: worth checking in the ledger.
            head = "Codat's warnings (the push succeeded; check the entry in the ledger)" \
                if op.status == "Success" else "Codat's warnings"
            out.append(f"<p><b>{_e(head)}</b></p><ul>" + "".join(f"<li>{_e(m)}</li>" for m in warnings) + "</ul>")

    out.append("<h4>Status history</h4>")
    if details.history:
        items = []
        for h in reversed(details.history):  # newest first: the latest change is what one looks for
            why = h.trigger + (f": {h.detail}" if h.detail else "")
            cause = f"{h.cause_kind} {h.cause_ref}".strip()
            items.append(f"<li><b>{_e(format_timestamp(h.at))}</b> {_e(h.from_status)} → <b>{_e(h.to_status)}</b>"
                         f"<br><span style='color:{muted}'>{_e(why)} · {_e(cause)}</span></li>")
        out.append("<ul style='margin-left:-20px'>" + "".join(items) + "</ul>")
    else:
        out.append(f"<p style='color:{muted}'>No changes yet.</p>")

    out.append("<h4>Webhook deliveries</h4>")
    if details.deliveries:
        items = []
        for d in details.deliveries:
            detail = f" — {d.verdict_detail}" if d.verdict_detail else ""
            items.append(f"<li><b>{_e(format_timestamp(d.received_at))}</b> {_e(d.event_type)}: "
                         f"<b>{_e(d.verdict)}</b>{_e(detail)}<br><span style='color:{muted}'>delivery "
                         f"{_e(d.delivery_id)}</span></li>")
        out.append("<ul style='margin-left:-20px'>" + "".join(items) + "</ul>")
    else:
        out.append(f"<p style='color:{muted}'>None received for this expense.</p>")
    return "".join(out)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:10px'><b>{_e(k)}</b></td><td>{_e(v)}</td></tr>"
                    for k, v in rows if v)
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def render_text(details: ExpenseDetails) -> str:
    """Plain text for the clipboard (support requests, e-mails to the bookkeeper)."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(render_html(details, False))
    return document.toPlainText()


class DetailsPane(QWidget):
    """Shows one expense; ``show_expense(None)`` shows a hint instead."""

    copyRequested = Signal(str)

    def __init__(self, engine: Engine | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._engine = engine  # None until the window has its core
        self._expense_id: int | None = None
        self._details: ExpenseDetails | None = None
        self._selected_count = 0

        self.title = QLabel("Details")
        self.title.setObjectName("detailsTitle")
        self.copy_button = QPushButton("&Copy details")
        self.copy_button.setToolTip("Copy these details as text, e.g. for a support request")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.copy_button)

        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.browser.setAccessibleName("Expense details")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.browser, 1)
        self.show_expense(None)

    def set_engine(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def expense_id(self) -> int | None:
        return self._expense_id

    def show_selection(self, expense_ids: list[int]) -> None:
        self._selected_count = len(expense_ids)
        self.show_expense(expense_ids[0] if len(expense_ids) == 1 else None)

    def show_expense(self, expense_id: int | None) -> None:
        self._expense_id = expense_id
        self.reload()

    def reload(self) -> None:
        self._details = (load_details(self._engine, self._expense_id)
                         if self._expense_id is not None and self._engine is not None else None)
        self.copy_button.setEnabled(self._details is not None)
        if self._details is None:
            self.title.setText("Details")
            if self._selected_count > 1:
                hint = f"{self._selected_count} expenses selected. Press Ctrl+P to push them."
            else:
                hint = "Select an expense to see its push operations, Codat's answer, its history and webhooks."
            self.browser.setHtml(f"<p style='color:gray'>{html.escape(hint)}</p>")
            return
        self.title.setText(f"Expense #{self._expense_id}")
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(render_html(self._details, is_dark_palette()))
        self.browser.verticalScrollBar().setValue(scroll)  # a live update must not jump

    def plain_text(self) -> str:
        return render_text(self._details) if self._details else ""

    def copy_to_clipboard(self) -> None:
        text = self.plain_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.copyRequested.emit(text)
