"""Add or edit one expense, with the same rules as the file import.

Amounts are typed in the user's number format (QLocale's locale, read by
:mod:`codatdesk.amounts`); what was understood is shown under each amount before saving.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from codatdesk.amounts import (
    PLAIN,
    FormatMismatch,
    NumberFormat,
    format_amount,
    parse_amount,
)
from codatdesk.core_api import TrackingChoice
from codatdesk.engine.edits import LINES, MISSING, REQUIRED, UNBALANCED, expense_problems, with_line_totals
from codatdesk.lines import Line, needs_rows
from codatdesk.money import ISO_4217, MoneyError, is_known_currency
from codatdesk.states import ExpenseStatus
from codatdesk.ui.dialogs.lines_editor import LinesEditor
from codatdesk.ui.formatting import locale_number_format
from codatdesk.ui.status_style import is_dark_palette, style_for

# form field -> (label with mnemonic, Expense attribute); which are required is the core's answer
FIELDS: dict[str, tuple[str, str]] = {
    "date": ("&Date", "expense_date"),
    "supplier": ("&Supplier", "supplier_name"),
    "description": ("Descr&iption", "description"),
    "account_code": ("&Account code", "account_code"),
    "account_name": ("Account &name", "account_name"),
    "bank_account": ("Paid &from (bank account)", "bank_account_code"),
    "tax_code": ("Ta&x code", "tax_code"),
    "net": ("N&et", "net"),
    "tax": ("&Tax", "tax"),
    "total": ("T&otal", "total"),
    "currency": ("&Currency", "currency"),
    # Codat's currencyRate: base-currency units per 1 unit of the currency (empty: the rate table's).
    "currency_rate": ("Rate to &base currency", "currency_rate"),
    "reference": ("&Reference", "reference"),
}
ATTRIBUTE_FIELDS = {attribute: name for name, (_label, attribute) in FIELDS.items()}
# What an expense with lines takes from them (line 1's account and tax code, the sums): not typed in the form.
LINE_FIELDS = ("account_code", "account_name", "tax_code", "net", "tax")
AMOUNT_FIELDS = ("net", "tax", "total")


def read_form(raw: dict[str, str], fmt: NumberFormat = PLAIN) -> tuple[dict[str, Any], dict[str, str]]:
    """Form text -> (Expense attribute values, {field: text that could not be read}). Only reading
    (dates, amounts in ``fmt``); the rules are the core's (``engine.edits.expense_problems``)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (_label, attribute) in FIELDS.items():
        if name not in ("date", "currency", "currency_rate", *AMOUNT_FIELDS):
            values[attribute] = (raw.get(name) or "").strip()
    currency = (raw.get("currency") or "").strip().upper()
    values["currency"] = currency
    date_text = (raw.get("date") or "").strip()
    if date_text:
        try:
            values["expense_date"] = dt.date.fromisoformat(date_text)
        except ValueError:
            errors["date"] = "use a date like 2024-03-31"
    amount_currency = currency if is_known_currency(currency) else None
    for name in AMOUNT_FIELDS:
        text = (raw.get(name) or "").strip()
        if not text:
            continue
        try:
            values[name] = parse_amount(text, amount_currency, fmt)
        except FormatMismatch:
            errors[name] = f"not written like {format_amount(Decimal('1234.56'), 'GBP', fmt)} (your number format)"
        except MoneyError as exc:
            errors[name] = str(exc)
    rate_text = (raw.get("currency_rate") or "").strip()
    values["currency_rate"] = None
    if rate_text:
        try:
            values["currency_rate"] = parse_amount(rate_text, None, fmt)
        except FormatMismatch:
            errors["currency_rate"] = f"not written like {format_amount(Decimal('0.85'), None, fmt)} (your number format)"
        except MoneyError as exc:
            errors["currency_rate"] = str(exc)
    return values, errors


def validate(raw: dict[str, str], fmt: NumberFormat = PLAIN, lines: Sequence[Line] | None = None,
             line_errors: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """Form text (and the lines, when the expense has them) -> (Expense attribute values, {field: problem}):
    what could not be read, then the core's rules (the ones ``Core.add_expense``/``update_expense``
    enforce), worded for this form. Lines give net, tax, account and tax code as the core takes them."""
    values, errors = read_form(raw, fmt)
    if line_errors:
        errors[LINES] = "; ".join(line_errors)
    elif lines is not None:
        values = with_line_totals({**values, LINES: list(lines)})
    currency = values["currency"] if is_known_currency(values["currency"]) else None
    for problem in expense_problems(values):
        name = ATTRIBUTE_FIELDS.get(problem.field, problem.field)
        if name == LINES:
            text = problem.text  # the core's words, naming the line
        elif problem.kind == MISSING:
            text = f"{FIELDS[name][0].replace('&', '')} is required"
        elif problem.kind == UNBALANCED:
            text = (f"net + tax is {format_amount(values['net'] + values['tax'], currency, fmt)}, "
                    f"not {format_amount(values['total'], currency, fmt)}")
        else:
            text = problem.text
        errors.setdefault(name, text)
    return values, errors


class ExpenseDialog(QDialog):
    """``values`` (Expense attributes) prefill an edit; ``result_values`` holds the cleaned values on accept."""

    def __init__(self, values: dict[str, Any] | None = None, *, suppliers: list[str] | None = None,
                 default_currency: str = "GBP", lines: Sequence[Line] = (),
                 tracking_choices: Sequence[TrackingChoice] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit expense" if values else "Add expense")
        self.result_values: dict[str, Any] = {}
        self.opened_lines = tuple(lines)
        self.inputs: dict[str, QWidget] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.reading_labels: dict[str, QLabel] = {}
        self.number_format = locale_number_format(self.locale().name())
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name, (label_text, attribute) in FIELDS.items():
            widget = self._make_input(name, default_currency, suppliers or [])
            label = QLabel(label_text + (" *" if attribute in REQUIRED else ""))
            label.setBuddy(widget)
            error = QLabel()
            error.setObjectName("fieldError")
            tones = style_for(ExpenseStatus.FAILED).tones(is_dark_palette())
            error.setStyleSheet(f"color: {tones.text}; background: {tones.background}; padding: 1px 4px;")
            error.setWordWrap(True)
            error.hide()
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(widget)
            if name in AMOUNT_FIELDS:
                reading = QLabel()
                reading.setObjectName("amountReading")
                reading.setAlignment(Qt.AlignmentFlag.AlignRight)
                small = reading.font()
                small.setPointSizeF(small.pointSizeF() * 0.9)
                reading.setFont(small)
                self.reading_labels[name] = reading
                column.addWidget(reading)
            column.addWidget(error)
            form.addRow(label, column)
            self.inputs[name] = widget
            self.error_labels[name] = error
        self._total_follows = True  # total is filled from net + tax until the user types in it
        if values:
            self._fill(values)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        example = format_amount(Decimal("1234.56"), "GBP", self.number_format)
        note = QLabel(f"* required. Type amounts in your number format, like {example}; "
                      "total must equal net + tax.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        # A single-line expense stays a simple form until the user splits it (or wants tracking).
        self.split_button = QPushButton("Split into &lines / choose tracking")
        self.split_button.setToolTip("Give the expense several lines, each with its own account, tax and "
                                     "tracking categories from Codat's lists.")
        self.split_button.clicked.connect(self.split)
        self.lines_editor = LinesEditor(tracking_choices, self.number_format)
        self.lines_editor.hide()
        self.lines_editor.changed.connect(self._lines_edited)
        lines_error = QLabel()
        lines_error.setObjectName("fieldError")
        lines_error.setStyleSheet(self.error_labels["total"].styleSheet())
        lines_error.setWordWrap(True)
        lines_error.hide()
        self.error_labels[LINES] = lines_error
        layout.addWidget(self.split_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.lines_editor)
        layout.addWidget(lines_error)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        for name, widget in self.inputs.items():
            if isinstance(widget, QLineEdit):
                widget.textEdited.connect(lambda _text, n=name: self._edited(n))
            elif isinstance(widget, QComboBox):
                widget.editTextChanged.connect(lambda _text, n=name: self._edited(n))
            elif isinstance(widget, QDateEdit):
                widget.dateChanged.connect(lambda _d, n=name: self._edited(n))
        if needs_rows(self.opened_lines):
            self._show_lines(self.opened_lines)
            # The total follows the lines while it equals their sum (a typed one is the user's).
            self._total_follows = values is not None and values.get("total") == sum(
                (line.total for line in self.opened_lines), Decimal(0))
        self.revalidate(show=False)
        self.resize(720 if self.has_lines else 520, self.sizeHint().height())

    @property
    def has_lines(self) -> bool:
        return not self.lines_editor.isHidden()

    def split(self) -> None:
        """Turn the simple form into lines: line 1 is what the form holds, line 2 is new."""
        values, _errors = read_form(self.raw_values(), self.number_format)
        first = Line(account_code=values.get("account_code", ""), net=values.get("net") or Decimal(0),
                     tax=values.get("tax") or Decimal(0), tax_code=values.get("tax_code", ""),
                     description=values.get("description", ""))
        self._show_lines([first])
        self.lines_editor.add_line()
        self.resize(max(self.width(), 720), self.sizeHint().height())

    def _show_lines(self, lines: Sequence[Line]) -> None:
        currency = self.inputs["currency"]
        assert isinstance(currency, QComboBox)
        self.lines_editor.currency = currency.currentText().strip().upper() or None
        self.lines_editor.set_lines(lines)
        self.lines_editor.show()
        self.split_button.hide()
        for name in LINE_FIELDS:
            self.inputs[name].setEnabled(False)
            self.inputs[name].setToolTip("Comes from the lines below.")

    def _lines_edited(self) -> None:
        """Net and tax follow the lines; the total too, until the user types it."""
        lines, errors = self.lines_editor.read_lines()
        if not errors and lines:
            currency = self.lines_editor.currency
            sums = {"net": sum((ln.net for ln in lines), Decimal(0)), "tax": sum((ln.tax for ln in lines), Decimal(0))}
            sums["total"] = sums["net"] + sums["tax"]
            for name, amount in sums.items():
                if name != "total" or self._total_follows:
                    widget = self.inputs[name]
                    assert isinstance(widget, QLineEdit)
                    widget.setText(format_amount(amount, currency, self.number_format))
        self.revalidate(show=True, only_touched=LINES)

    def _validate(self) -> tuple[dict[str, Any], dict[str, str]]:
        if not self.has_lines:
            return validate(self.raw_values(), self.number_format)
        lines, line_errors = self.lines_editor.read_lines()
        return validate(self.raw_values(), self.number_format, lines, line_errors)

    def _make_input(self, name: str, default_currency: str, suppliers: list[str]) -> QWidget:
        if name == "date":
            edit = QDateEdit(QDate.currentDate())
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            return edit
        if name == "currency":
            combo = QComboBox()
            combo.setEditable(True)
            combo.addItems(sorted(ISO_4217))
            combo.setCurrentText(default_currency)
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            return combo
        edit = QLineEdit()
        if name in ("net", "tax", "total"):
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            edit.setPlaceholderText(format_amount(Decimal(0), default_currency, self.number_format))
        if name == "supplier" and suppliers:
            from PySide6.QtWidgets import QCompleter

            completer = QCompleter(sorted(set(suppliers)), edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            edit.setCompleter(completer)
        return edit

    def _fill(self, values: dict[str, Any]) -> None:
        for name, (_label, attribute) in FIELDS.items():
            value = values.get(attribute)
            if value is None:
                continue
            widget = self.inputs[name]
            if isinstance(widget, QDateEdit):
                widget.setDate(QDate(value.year, value.month, value.day))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            elif isinstance(widget, QLineEdit):
                widget.setText(format_amount(value, None if name == "currency_rate" else values.get("currency"),
                                             self.number_format)
                               if isinstance(value, Decimal) else str(value))
        self._total_follows = False

    def raw_values(self) -> dict[str, str]:
        raw = {}
        for name, widget in self.inputs.items():
            if isinstance(widget, QDateEdit):
                raw[name] = widget.date().toString("yyyy-MM-dd")
            elif isinstance(widget, QComboBox):
                raw[name] = widget.currentText()
            elif isinstance(widget, QLineEdit):
                raw[name] = widget.text()
        return raw

    def set_values(self, raw: dict[str, str]) -> None:
        """Type into the form (tests, paste-from-clipboard)."""
        for name, text in raw.items():
            widget = self.inputs[name]
            if isinstance(widget, QDateEdit):
                widget.setDate(QDate.fromString(text, "yyyy-MM-dd"))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(text)
            else:
                widget.setText(text)  # type: ignore[attr-defined]
            self._edited(name)

    def _edited(self, name: str) -> None:
        if name == "total":
            self._total_follows = False
        elif name in ("net", "tax") and self._total_follows:
            values, errors = self._validate()
            if "net" in values and "tax" in values and "net" not in errors and "tax" not in errors:
                total = self.inputs["total"]
                assert isinstance(total, QLineEdit)
                total.setText(format_amount(values["net"] + values["tax"], values.get("currency") or None,
                                            self.number_format))
        self.revalidate(show=True, only_touched=name)

    def revalidate(self, *, show: bool = True, only_touched: str | None = None) -> dict[str, str]:
        values, errors = self._validate()
        currency = values.get("currency") if "currency" not in errors else None
        self.lines_editor.currency = currency or None
        for name, reading in self.reading_labels.items():
            # Say what was understood, in full, so 70,00 read as 7000 cannot pass unseen.
            amount = values.get(name) if name not in errors else None
            reading.setText(f"read as {format_amount(amount, currency or None, self.number_format)} {currency or ''}"
                            if amount is not None else "")
        for name, label in self.error_labels.items():
            message = errors.get(name, "")
            # Show a problem once the field was touched (or on Save), not on an empty new form.
            visible = bool(message) and show and (only_touched is None or name == only_touched or label.isVisible())
            label.setText("⚠ " + message if message else "")
            label.setVisible(visible)
        return errors

    def _accept_if_valid(self) -> None:
        values, errors = self._validate()
        if errors:
            self.revalidate(show=True)
            return
        if values.get(LINES) is not None and tuple(values[LINES]) == self.opened_lines:
            values = {k: v for k, v in values.items() if k != LINES}  # unchanged lines keep their Codat ids
        if LINES in values:
            values.pop("account_name", None)  # line 1's account names it; the disabled field is not the user's
        self.result_values = values
        self.accept()
