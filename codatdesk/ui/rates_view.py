"""Currency rates: the per-company table of rates the user keeps for foreign-currency expenses.

A rate is Codat's ``currencyRate``: how many units of the company's base currency one unit of
the expense's currency is worth, from a date on (``engine.currency``). Rates are read and typed
in the user's number format (``codatdesk.amounts``, as the expense dialog does). Every read and
write runs off the GUI thread; after a change the rows held back for want of a rate are checked
again, so they become pushable at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from codatdesk.amounts import FormatMismatch, NumberFormat, format_amount, parse_amount
from codatdesk.money import MoneyError
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_timestamp, locale_number_format
from codatdesk.ui.status_style import is_dark_palette, style_for
from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.engine.rate_table import RateEntry, RateTable, Recheck

COLUMNS = ("Currency", "Rate", "Valid from", "Set by", "Set at")
EntryRole = Qt.ItemDataRole.UserRole


def rate_sentence(rate: Decimal, currency: str, base: str | None, fmt: NumberFormat) -> str:
    """``1 USD = 0.79 GBP``, in the user's number format; all the rate's decimals are shown."""
    return f"1 {currency} = {format_amount(rate, None, fmt)} {base or 'in the base currency'}"


class RatesView(QWidget):
    """The table and an editor under it. ``read``, ``save``, ``delete`` and ``recheck`` are the core's
    (``engine.rate_table``), called on a pool thread; ``read`` is None until the window has its core."""

    statusMessage = Signal(str)
    changed = Signal(object)  # the Recheck after a save or delete
    loaded = Signal()  # the table shows the store (tests wait on it)

    def __init__(self, read: Callable[[str], RateTable] | None, *,
                 save: Callable[[str, str, Decimal, dt.date, int | None], RateEntry],
                 delete: Callable[[str, int], None],
                 recheck: Callable[[str], Recheck],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._read = read
        self._save, self._delete, self._recheck = save, delete, recheck
        self._company_id: str | None = None
        self._table_data: RateTable | None = None
        self._editing: int | None = None  # the entry being changed; None: a new one
        self.number_format = locale_number_format(self.locale().name())

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAccessibleName("Currency rates")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selected)
        self.table.itemDoubleClicked.connect(lambda _item: self.currency_edit.setFocus())

        self.currency_edit = QLineEdit()
        self.currency_edit.setMaxLength(3)
        self.currency_edit.setPlaceholderText("EUR")
        self.currency_edit.setAccessibleName("Currency")
        self.rate_edit = QLineEdit()
        self.rate_edit.setPlaceholderText(format_amount(Decimal("0.85"), None, self.number_format))
        self.rate_edit.setAccessibleName("Rate")
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setAccessibleName("Valid from")
        self.reading = QLabel()  # what was understood: "1 EUR = 0.85 GBP", or why not
        self.reading.setWordWrap(True)
        self.reading.setObjectName("rateReading")
        form = QFormLayout()
        for text, widget in (("&Currency:", self.currency_edit), ("&Rate:", self.rate_edit),
                             ("&Valid from:", self.date_edit)):
            label = QLabel(text)
            label.setBuddy(widget)
            form.addRow(label, widget)
        form.addRow("", self.reading)
        for widget in (self.currency_edit, self.rate_edit):
            widget.textChanged.connect(self._validate)
        self.date_edit.dateChanged.connect(self._validate)

        self.new_button = QPushButton("&New rate")
        self.new_button.clicked.connect(lambda: self.start_new())
        self.save_button = QPushButton("&Add rate")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("&Delete rate…")
        self.delete_button.clicked.connect(self.confirm_delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.save_button)
        self.result = QLabel()  # what the last change did to the expenses
        self.result.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        self._pending_focus: tuple[str, dt.date | None] | None = None
        self.start_new()

    # ------------------------------------------------------------------ reading

    @property
    def company_id(self) -> str | None:
        return self._company_id

    @property
    def base_currency(self) -> str | None:
        return self._table_data.base_currency if self._table_data else None

    def set_reader(self, read: Callable[[str], RateTable]) -> None:
        self._read = read
        self.reload()

    def set_company(self, company_id: str | None) -> None:
        if company_id != self._company_id:
            self._company_id = company_id
            self._table_data = None
            self.start_new()
        self.reload()

    def reload(self) -> None:
        if self._read is None or self._company_id is None:
            self._show(None)
            return
        read, company_id = self._read, self._company_id
        run_in_background(lambda: read(company_id),
                          lambda table: company_id == self._company_id and self._show(table),
                          self._failed("read the rates"), owner=self)

    def _show(self, table: RateTable | None) -> None:
        self._table_data = table
        entries = table.entries if table else []
        base = table.base_currency if table else None
        if self._company_id is None:
            self.intro.setText("Choose a company to see its currency rates.")
        elif base:
            self.intro.setText(f"Rates for expenses not in <b>{base}</b>, the company's base currency. "
                               f"Each rate says what one unit of the currency is worth in {base}, from its date on "
                               "(Codat's currencyRate). An expense's own rate, if it has one, comes first.")
        else:
            self.intro.setText("Codat has not told codatdesk this company's base currency yet (Re-read from Codat "
                               "in Mapping). Rates are kept in whatever the base currency turns out to be.")
        selected = self._editing
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            values = (entry.currency, rate_sentence(entry.rate, entry.currency, base, self.number_format),
                      entry.valid_from.isoformat(), entry.updated_by or "—",
                      format_timestamp(entry.updated_at, seconds=False))
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(EntryRole, entry.id)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        self._select_entry(selected)
        self.save_button.setEnabled(self._company_id is not None)
        self._validate()
        if self._pending_focus is not None:
            currency, valid_from = self._pending_focus
            self._pending_focus = None
            self.focus_currency(currency, valid_from)
        self.loaded.emit()

    def entries(self) -> list[RateEntry]:
        return self._table_data.entries if self._table_data else []

    # ------------------------------------------------------------------ editing

    def start_new(self, currency: str = "", valid_from: dt.date | None = None) -> None:
        self._editing = None
        self.table.clearSelection()
        self.currency_edit.setText(currency)
        self.rate_edit.clear()
        day = valid_from or dt.date.today()
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.save_button.setText("&Add rate")
        self.delete_button.setEnabled(False)
        self._validate()
        (self.rate_edit if currency else self.currency_edit).setFocus()

    def focus_currency(self, currency: str, valid_from: dt.date | None = None) -> None:
        """From a blocked expense's fix: a new rate for ``currency`` valid from ``valid_from``."""
        if self._table_data is None:  # not loaded yet: once it is
            self._pending_focus = (currency, valid_from)
            return
        self.start_new(currency.upper(), valid_from)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == currency.upper():
                self.table.scrollToItem(self.table.item(row, 0))
                break

    def _on_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        entry_id = self.table.item(rows[0].row(), 0).data(EntryRole)
        entry = next((e for e in self.entries() if e.id == entry_id), None)
        if entry is None:
            return
        self._editing = entry.id
        self.currency_edit.setText(entry.currency)
        self.rate_edit.setText(format_amount(entry.rate, None, self.number_format))
        self.date_edit.setDate(QDate(entry.valid_from.year, entry.valid_from.month, entry.valid_from.day))
        self.save_button.setText("&Save changes")
        self.delete_button.setEnabled(True)
        self._validate()

    def _select_entry(self, entry_id: int | None) -> None:
        """Keep the entry being changed selected across a reload (the editor keeps what was typed)."""
        for row in range(self.table.rowCount()):
            if entry_id is not None and self.table.item(row, 0).data(EntryRole) == entry_id:
                self.table.blockSignals(True)
                self.table.selectRow(row)
                self.table.blockSignals(False)
                self.save_button.setText("&Save changes")
                self.delete_button.setEnabled(True)
                return
        if entry_id is not None:  # deleted meanwhile (here or by `codatdesk rates`)
            self.start_new()

    def values(self) -> tuple[str, Decimal, dt.date] | str:
        """(currency, rate, valid from), or what is wrong, in plain words."""
        from codatdesk.engine.currency import check_rate
        from codatdesk.engine.rate_table import check_currency

        try:
            currency = check_currency(self.currency_edit.text(), self.base_currency)
        except MoneyError as exc:
            return str(exc)
        text = self.rate_edit.text().strip()
        example = format_amount(Decimal("0.85"), None, self.number_format)
        if not text:
            return f"Type the rate: what 1 {currency} is worth in {self.base_currency or 'the base currency'}, " \
                   f"like {example}."
        try:
            rate = check_rate(parse_amount(text, None, self.number_format))
        except FormatMismatch:
            return f"The rate is not written like {example} (your number format)."
        except MoneyError as exc:
            return str(exc)[:1].upper() + str(exc)[1:] + "."
        return currency, rate, self.date_edit.date().toPython()

    def _validate(self, *_args: object) -> None:
        values = self.values()
        ok = not isinstance(values, str)
        if ok:
            currency, rate, valid_from = values
            text = (f"Read as {rate_sentence(rate, currency, self.base_currency, self.number_format)}, "
                    f"for expenses dated {valid_from.isoformat()} or later.")
        elif not self.currency_edit.text() and not self.rate_edit.text():
            text = ""
        else:
            text = values
        self.reading.setText(text)
        tones = style_for(ExpenseStatus.COMPLETE if ok else ExpenseStatus.FAILED).tones(is_dark_palette())
        self.reading.setStyleSheet(f"color: {tones.text}; background: {tones.background}; padding: 2px 4px;"
                                   if text else "")
        self.save_button.setEnabled(ok and self._company_id is not None and self._read is not None)

    def save(self) -> None:
        values = self.values()
        if isinstance(values, str) or self._company_id is None:
            return
        currency, rate, valid_from = values
        company_id, replacing = self._company_id, self._editing
        self.save_button.setEnabled(False)

        def work() -> tuple[RateEntry, Recheck]:
            entry = self._save(company_id, currency, rate, valid_from, replacing)
            return entry, self._recheck(company_id)

        def done(result: tuple[RateEntry, Recheck]) -> None:
            entry, recheck = result
            self._editing = entry.id
            self._after_change(f"{rate_sentence(entry.rate, entry.currency, self.base_currency, self.number_format)}"
                               f" from {entry.valid_from.isoformat()} saved.", recheck)

        run_in_background(work, done, self._failed("save the rate"), owner=self)

    def confirm_delete(self) -> None:
        entry = next((e for e in self.entries() if e.id == self._editing), None)
        if entry is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Delete rate",
                          f"Delete the {entry.currency} rate from {entry.valid_from.isoformat()}? Expenses that "
                          "need it are held back again until they have a rate.",
                          QMessageBox.StandardButton.Cancel, self)
        confirm = box.addButton("&Delete rate", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: button is confirm and self.delete(entry.id))
        self.delete_box = box
        box.open()

    def delete(self, entry_id: int) -> None:
        company_id = self._company_id
        if company_id is None:
            return
        entry = next((e for e in self.entries() if e.id == entry_id), None)
        label = f"The {entry.currency} rate from {entry.valid_from.isoformat()}" if entry else "The rate"

        def work() -> Recheck:
            self._delete(company_id, entry_id)
            return self._recheck(company_id)

        def done(recheck: Recheck) -> None:
            self.start_new()
            self._after_change(f"{label} was deleted.", recheck)

        run_in_background(work, done, self._failed("delete the rate"), owner=self)

    def _after_change(self, what: str, recheck: Recheck) -> None:
        parts = [what]
        if recheck.unblocked:
            parts.append(f"{len(recheck.unblocked)} expense(s) held back for want of a rate can be pushed now.")
        if recheck.blocked:
            parts.append(f"{len(recheck.blocked)} expense(s) have no rate now and are held back until they do.")
        self._set_result(" ".join(parts), ok=True)
        self.statusMessage.emit(" ".join(parts))
        self.changed.emit(recheck)
        self.reload()

    def _failed(self, doing: str) -> Callable[[BaseException], None]:
        def show(error: BaseException) -> None:
            from codatdesk.ui.messages import user_message

            text = str(error) if isinstance(error, MoneyError) else user_message(error)[1]
            self._set_result(f"Could not {doing}: {text}", ok=False)
            self._validate()
        return show

    def _set_result(self, text: str, *, ok: bool) -> None:
        tones = style_for(ExpenseStatus.COMPLETE if ok else ExpenseStatus.FAILED).tones(is_dark_palette())
        self.result.setStyleSheet(f"color: {tones.text}; background: {tones.background}; padding: 4px;")
        self.result.setText(text)


class RatesDialog(QDialog):
    """The rate table in its own window (File › Currency rates, or a blocked expense's fix)."""

    def __init__(self, view_args: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Currency rates")
        self.view = RatesView(**view_args)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(680, 520)
