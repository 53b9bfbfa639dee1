"""The details of the selected expense: push operations, Codat's errors, history, webhooks.

The core reads everything in one short read transaction (``CoreAPI.expense_details``, a frozen
read model); ``render_html`` (testable without widgets) and ``DetailsPane`` show it as selectable rich text.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from codatdesk.core_api import ExpenseDetails
from codatdesk.routes import label as route_label
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_date, format_money, format_timestamp
from codatdesk.ui.receipts_panel import ReceiptsPanel
from codatdesk.ui.status_style import is_dark_palette, style_for
from codatdesk.ui.workers import LatestRead

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI, OperationRecord
    from codatdesk.engine.plain_reasons import PlainReason

FIX_LINK = "fix:"  # + the reason's index: the pane's fixRequested
TECHNICAL_LINK = "toggle:technical"


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


def failure_reasons(details: ExpenseDetails) -> list[PlainReason]:
    """What went wrong with this expense, in plain words with a fix each; [] when nothing did.

    A failed push: Codat's validation errors of the operation that failed (the expense's own, or the
    account or supplier it waited for), through ``engine.plain_reasons``. Otherwise the reasons on the
    row (not sent: a reference, a rate; a refused POST), each with ``engine.fixes``' fix.
    """
    from codatdesk.engine.fixes import NONE, fix_for
    from codatdesk.engine.plain_reasons import ExpenseValues, PlainReason, explain_failure

    e = details.expense
    status = ExpenseStatus(e.status)
    if status is ExpenseStatus.COMPLETE:
        return []
    if status is ExpenseStatus.FAILED:
        failed = _failed_operation(details)
        if failed is not None and failed.has_reasons:
            errors = _json_list(failed.validation_errors_json)
            return explain_failure(failed.status, failed.error_message, errors, ExpenseValues.of(e),
                                   data_type=failed.data_type, creates=failed.creates_code)
    if status not in (ExpenseStatus.FAILED, ExpenseStatus.NOT_PUSHED) or not e.status_detail:
        return []
    detail = e.status_detail.removeprefix("Not sent: ")
    parts = detail.split("; ") if detail != e.status_detail else [detail]
    reasons = []
    for part in parts:
        fix = fix_for(part)
        if fix.kind != NONE:
            reasons.append(PlainReason(_sentence(part) + " " + fix.text, fix, part))
    return reasons


def _failed_operation(details: ExpenseDetails) -> OperationRecord | None:
    """The operation that failed the expense: its own current push, else the prerequisite it waited for."""
    e = details.expense
    by_key = {op.key: op for op in details.operations}
    for key in (e.push_operation_key, e.waiting_on_key):
        op = by_key.get(key or "")
        if op is not None and op.status in ("Failed", "TimedOut"):
            return op
    return None


def _json_list(raw: str | None) -> list[dict]:
    try:
        items = json.loads(raw) if raw else []
    except (TypeError, ValueError):
        return [{"message": str(raw)}]
    if isinstance(items, dict):
        items = items.get("errors") or []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def edited_since_failed(details: ExpenseDetails) -> bool:
    """A failed expense changed (Edit) after it failed: the reasons shown are about the old values.
    Only a status change and an edit set ``updated_at``; the status change also writes history."""
    e = details.expense
    if ExpenseStatus(e.status) is not ExpenseStatus.FAILED or not details.history:
        return False
    return _utc(e.updated_at) > _utc(details.history[-1].at)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def render_html(details: ExpenseDetails, dark: bool, *, technical: bool = True) -> str:
    """The expense: first what happened and what to do, then its values and history; Codat's own
    words (keys, HTTP status, raw errors, webhooks) under "Technical details" when ``technical``."""
    e = details.expense
    status = ExpenseStatus(e.status)
    tones = style_for(status).tones(dark)
    chip = (f'<span style="background:{tones.background}; color:{tones.text}; font-weight:600">'
            f'&nbsp;{_e(status.value)}&nbsp;</span>')
    muted = "#A0A0A0" if dark else "#5A5A5A"
    link = "#8AB4F8" if dark else "#1A55B0"
    out = [
        f"<h3 style='margin-bottom:2px'>{_e(e.supplier_name)} — {_e(format_money(e.total, e.currency))} "
        f"{_e(e.currency)}</h3>",
        f"<p style='margin-top:0'>{chip} &nbsp;<span style='color:{muted}'>expense #{e.id} · "
        f"{_e(details.company_name)}</span></p>",
    ]
    if edited_since_failed(details):
        warn = style_for(ExpenseStatus.OUTCOME_UNKNOWN).tones(dark)
        out.append(f"<p style='background:{warn.background}; color:{warn.text}'>&nbsp;You changed this expense "
                   "after it failed: the reasons below are about the earlier values. Push it again (Ctrl+P) to "
                   "send the change.&nbsp;</p>")
    reasons = failure_reasons(details)
    if reasons:
        head = "Why it failed" if status is ExpenseStatus.FAILED else "Why it was not sent"
        out.append(f"<p style='margin-bottom:2px'><b>{head}</b></p>")
        for index, reason in enumerate(reasons):
            action = reason.fix.action_label
            button = (f" <a href='{FIX_LINK}{index}' style='color:{link}'>{_e(action.rstrip('…'))}…</a>"
                      if action else "")
            out.append(f"<p style='margin-top:2px; margin-bottom:10px'>{_e(reason.text)}{button}</p>")
    elif e.status_detail:
        out.append(f"<p><b>{_e(e.status_detail)}</b></p>")
    elif status is ExpenseStatus.COMPLETE:
        out.append("<p>In the ledger: nothing more to do.</p>")  # its record id is in the technical details
    split = len(details.lines) > 1
    rows = [("Date", format_date(e.expense_date)), ("Description", e.description),
            ("Account", f"{len(details.lines)} lines (below)" if split else
             f"{e.account_code} {('· ' + e.account_name) if e.account_name else ''}"),
            ("Paid from", e.bank_account_code), ("Tax code", "" if split else e.tax_code),
            ("Net / tax", f"{format_money(e.net, e.currency)} / {format_money(e.tax, e.currency)}"),
            ("Reference", e.reference),
            ("Employee claim", f"yes, for {e.employee}" if e.is_claim else ""),
            ("Pushed as", route_label(details.push_route))]
    out.append(_table(rows))
    if details.lines:
        out.append(_lines_list(details.lines, e.currency, muted))
    warnings = [m for op in details.operations if op.key == e.push_operation_key and op.status == "Success"
                for m in validation_messages(op.validation_warnings_json)]
    if warnings:  # all Codat says about a booking: worth checking in the ledger, so not hidden
        out.append("<p><b>Codat's warnings (the push succeeded; check the entry in the ledger)</b></p><ul>"
                   + "".join(f"<li>{_e(m)}</li>" for m in warnings) + "</ul>")

    out.append("<h4>Status history</h4>")
    if details.history:
        items = []
        for h in reversed(details.history):  # newest first: the latest change is what one looks for
            why = h.trigger + (f": {h.detail}" if h.detail else "")
            cause = f"{h.cause_kind} {h.cause_ref}".strip() + (f" · by {h.actor}" if h.actor else "")
            items.append(f"<li><b>{_e(format_timestamp(h.at))}</b> {_e(h.from_status)} → <b>{_e(h.to_status)}</b>"
                         f"<br><span style='color:{muted}'>{_e(why)} · {_e(cause)}</span></li>")
        out.append("<ul style='margin-left:-20px'>" + "".join(items) + "</ul>")
    else:
        out.append(f"<p style='color:{muted}'>No changes yet.</p>")

    arrow = "▾" if technical else "▸"
    out.append(f"<h4><a href='{TECHNICAL_LINK}' style='color:{link}; text-decoration:none'>{arrow} Technical "
               "details</a></h4>")
    if technical:
        out.append(_technical_html(details, muted))
    return "".join(out)


def _technical_html(details: ExpenseDetails, muted: str) -> str:
    """Codat's own words: keys, statuses, HTTP status, raw validation lists, webhook deliveries."""
    e = details.expense
    keys = [("Push operation key", e.push_operation_key or "—")]
    if e.waiting_on_key:
        keys.append(("Waiting on", e.waiting_on_key))
    out = [_table(keys), "<h4>Push operations</h4>"]
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
            out.append("<p><b>Codat's warnings</b></p><ul>" + "".join(f"<li>{_e(m)}</li>" for m in warnings)
                       + "</ul>")

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


def _lines_list(lines: list, currency: str, muted: str) -> str:
    """One item per line (a list, not a table: the pane is narrow): account, description, net, tax and
    tax code, then the tracking categories."""
    items = []
    for line in lines:
        what = f"<b>{_e(line.account_code)}</b>" + (f" {_e(line.description)}" if line.description else "")
        amounts = (f"{_e(format_money(line.net, currency))} net + {_e(format_money(line.tax, currency))} tax"
                   + (f" ({_e(line.tax_code)})" if line.tax_code else ""))
        tracking = (f"<br><span style='color:{muted}'>tracking: {_e('; '.join(line.tracking))}</span>"
                    if line.tracking else "")
        items.append(f"<li>{what}: {amounts}{tracking}</li>")
    return "<p style='margin-bottom:0'><b>Lines</b></p><ol style='margin-top:2px; margin-left:-20px'>" \
        + "".join(items) + "</ol>"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:10px'><b>{_e(k)}</b></td><td>{_e(v)}</td></tr>"
                    for k, v in rows if v)
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def render_text(details: ExpenseDetails) -> str:
    """Plain text for the clipboard (support requests, e-mails to the bookkeeper)."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(render_html(details, False, technical=True))
    return document.toPlainText()


class DetailsPane(QWidget):
    """Shows one expense; ``show_expense(None)`` shows a hint instead."""

    copyRequested = Signal(str)
    fixRequested = Signal(int, object)  # expense id, engine.fixes.Fix (a reason's link)
    loaded = Signal()  # a read of the expense's details is shown (tests wait on it)

    def __init__(self, core: CoreAPI | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core  # None until the window has its core
        self._expense_id: int | None = None
        self._details: ExpenseDetails | None = None
        self._reads = LatestRead(self)  # a read still going is for an older state: its answer is dropped
        self._reading = False  # the expense shown has no details read yet
        self._reasons: list[PlainReason] = []
        self._selected_count = 0
        self._pushable_count: int | None = None  # of the selected rows; None: not known
        self.show_technical = False  # Codat's raw words stay folded until asked for

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
        self.browser.anchorClicked.connect(self._on_link)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.browser, 1)
        self.receipts = ReceiptsPanel()  # the core is set by the window (CoreAPI: attach, retry, detach)
        layout.addWidget(self.receipts)
        self.show_expense(None)

    def set_core(self, core: CoreAPI) -> None:
        self._core = core

    @property
    def expense_id(self) -> int | None:
        return self._expense_id

    @property
    def reasons(self) -> list[PlainReason]:
        """The plain reasons shown for the expense (first what happened, then the fix)."""
        return list(self._reasons)

    def show_selection(self, expense_ids: list[int], pushable: int | None = None) -> None:
        """``pushable``: how many of them an ordinary push would send (the hint offers Ctrl+P only then)."""
        self._selected_count = len(expense_ids)
        self._pushable_count = pushable
        self.show_expense(expense_ids[0] if len(expense_ids) == 1 else None)

    def show_expense(self, expense_id: int | None) -> None:
        self._expense_id = expense_id
        self.reload()

    def set_technical_shown(self, shown: bool) -> None:
        self.show_technical = shown
        self._render()  # what was read, folded or not: no new read

    def restyle(self) -> None:
        """Draw what was read again in the current palette (light or dark): no new read."""
        self._render()

    def _on_link(self, url: QUrl) -> None:
        target = url.toString()
        if target == TECHNICAL_LINK:
            self.set_technical_shown(not self.show_technical)
        elif target.startswith(FIX_LINK) and self._expense_id is not None:
            index = int(target.removeprefix(FIX_LINK))
            if 0 <= index < len(self._reasons):
                self.fixRequested.emit(self._expense_id, self._reasons[index].fix)

    def _hint(self) -> str:
        count, pushable = self._selected_count, self._pushable_count
        if count <= 1:
            return "Select an expense to see what happened to it, what to do, and its history."
        if pushable is None:
            return f"{count} expenses selected."
        if pushable == 0:
            return f"{count} expenses selected; none of them can be pushed (already sent, in the ledger or waiting)."
        if pushable == count:
            return f"{count} expenses selected. Press Ctrl+P to push them."
        return f"{count} expenses selected; {pushable} of them can be pushed: press Ctrl+P to push those."

    def reload(self) -> None:
        """Read the expense's details off the GUI thread (its history, pushes and attempts: several reads, over
        the network in team mode). Another expense's details are never shown meanwhile."""
        core, expense_id = self._core, self._expense_id
        if expense_id is None or core is None:
            self._reads.drop()
            self._show(None)
            return
        self._reading = True
        if self._details is None or self._details.expense.id != expense_id:
            self._details = None
            self._render()  # "Reading…": never the previous expense's details meanwhile
        self._reads.start(lambda: core.expense_details(expense_id), self._show, self._read_failed)

    def _read_failed(self, error: BaseException) -> None:
        self._reading = False
        self.browser.setHtml(f"<p style='color:gray'>{html.escape(f'The details could not be read: {error}')}</p>")
        self.loaded.emit()

    def _show(self, details: ExpenseDetails | None) -> None:
        self._details, self._reading = details, False
        self.receipts.show_expense(self._expense_id if details is not None else None)
        self._render()
        self.loaded.emit()

    def _render(self) -> None:
        self.copy_button.setEnabled(self._details is not None)
        if self._details is None and self._reading:
            self._reasons = []
            self.title.setText(f"Expense #{self._expense_id}")
            self.browser.setHtml("<p style='color:gray'>Reading…</p>")
            return
        if self._details is None:
            self._reasons = []
            self.title.setText("Details")
            self.browser.setHtml(f"<p style='color:gray'>{html.escape(self._hint())}</p>")
            return
        self._reasons = failure_reasons(self._details)
        self.title.setText(f"Expense #{self._expense_id}")
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(render_html(self._details, is_dark_palette(), technical=self.show_technical))
        self.browser.verticalScrollBar().setValue(scroll)  # a live update must not jump

    def plain_text(self) -> str:
        """Everything, Codat's technical details too (support requests need them)."""
        return render_text(self._details) if self._details else ""

    def shown_text(self) -> str:
        """What the pane shows now (the technical details only when unfolded)."""
        return self.browser.toPlainText()

    def copy_to_clipboard(self) -> None:
        text = self.plain_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.copyRequested.emit(text)
