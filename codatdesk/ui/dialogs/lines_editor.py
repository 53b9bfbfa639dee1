"""An expense's lines, edited by hand: account, description, net, tax, tax code and tracking per line.

Amounts are read as the expense dialog reads them (``amounts.parse_amount`` in the user's number
format); the rules over the lines (each line, their sum against the expense's total) are the core's
(``lines.line_problems`` / ``totals_problems``), shown by the dialog under this table.
Tracking is chosen from Codat's lists (``CoreAPI.tracking_categories``: leaves only).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from codatdesk.amounts import PLAIN, FormatMismatch, NumberFormat, format_amount, parse_amount
from codatdesk.core_api import TrackingChoice
from codatdesk.lines import Line
from codatdesk.money import MoneyError

COLUMNS = ("Account code", "Description", "Net", "Tax", "Tax code", "Tracking")
ACCOUNT, DESCRIPTION, NET, TAX, TAX_CODE, TRACKING = range(len(COLUMNS))
NO_TRACKING = "(none)"


class TrackingButton(QToolButton):
    """One line's tracking: a menu of Codat's categories ("Departments: Finance"), several may be ticked.
    A value not in Codat's list (an import's name or an old id) is kept, and shown as it was given."""

    changed = Signal()

    def __init__(self, choices: Sequence[TrackingChoice], chosen: Sequence[str] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self)
        self.setMenu(menu)
        known = {c.id: c for c in choices} | {c.name: c for c in choices}
        picked = {known[v].id if v in known else v for v in chosen}
        self._actions = []
        for value in [*[c.id for c in choices], *[v for v in chosen if v not in known]]:
            choice = known.get(value)
            action = menu.addAction(choice.label if choice else value)
            action.setCheckable(True)
            action.setChecked(value in picked)
            action.setData(value)
            action.toggled.connect(self._toggled)
            self._actions.append(action)
        if not self._actions:
            self.setEnabled(False)
            self.setToolTip("This company has no tracking categories (or its reference data is not read yet).")
        self._show()

    def values(self) -> tuple[str, ...]:
        return tuple(a.data() for a in self._actions if a.isChecked())

    def labels(self) -> list[str]:
        return [a.text() for a in self._actions if a.isChecked()]

    def choose(self, value: str, on: bool = True) -> None:
        for action in self._actions:
            if action.data() == value:
                action.setChecked(on)

    def _toggled(self) -> None:
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        self.setText("; ".join(self.labels()) or NO_TRACKING)


class LinesEditor(QWidget):
    """A table of lines with Add/Remove and the lines' totals. ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, choices: Sequence[TrackingChoice] = (), number_format: NumberFormat = PLAIN,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = list(choices)
        self.number_format = number_format
        self.currency: str | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("linesTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        # Description and tracking share the spare width: a chosen "Departments: Finance" is read in full.
        header.setSectionResizeMode(DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(TRACKING, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(True)
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QPushButton("Add &line")
        self.remove_button = QPushButton("Re&move line")
        self.add_button.clicked.connect(lambda: self.add_line())
        self.remove_button.clicked.connect(self.remove_selected)
        self.totals = QLabel()
        self.totals.setObjectName("linesTotals")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.totals)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.changed.connect(self._show_totals)

    def row_count(self) -> int:
        return self.table.rowCount()

    def add_line(self, line: Line | None = None) -> int:
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        texts = {ACCOUNT: "", DESCRIPTION: "", NET: "", TAX: "", TAX_CODE: ""}
        if line is not None:
            texts = {ACCOUNT: line.account_code, DESCRIPTION: line.description, TAX_CODE: line.tax_code,
                     NET: self._amount_text(line.net), TAX: self._amount_text(line.tax)}
        for column, text in texts.items():
            item = QTableWidgetItem(text)
            if column in (NET, TAX):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        button = TrackingButton(self.choices, line.tracking if line else ())
        button.changed.connect(self.changed.emit)
        self.table.setCellWidget(row, TRACKING, button)
        self.table.blockSignals(False)
        self.changed.emit()
        return row

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()} or {self.table.rowCount() - 1}, reverse=True)
        for row in rows:
            if row >= 0:
                self.table.removeRow(row)
        self.changed.emit()

    def set_lines(self, lines: Sequence[Line]) -> None:
        self.table.setRowCount(0)
        for line in lines:
            self.add_line(line)

    def set_cell(self, row: int, column: int, text: str) -> None:
        """Type into a cell (tests, paste)."""
        item = self.table.item(row, column)
        assert item is not None, "every cell of a line is created with it (add_line)"
        item.setText(text)

    def tracking_button(self, row: int) -> TrackingButton:
        button = self.table.cellWidget(row, TRACKING)
        assert isinstance(button, TrackingButton)
        return button

    def read_lines(self) -> tuple[list[Line], list[str]]:
        """(the lines, what could not be read: "line 2: net ..."); the rules are the core's."""
        lines, errors = [], []
        for row in range(self.table.rowCount()):
            amounts: dict[str, Decimal | None] = {}
            for column, name in ((NET, "net"), (TAX, "tax")):
                text = self._text(row, column)
                if not text:
                    amounts[name] = Decimal(0) if name == "tax" else None
                    if name == "net":
                        errors.append(f"line {row + 1}: the net is missing")
                    continue
                try:
                    amounts[name] = parse_amount(text, self.currency, self.number_format)
                except FormatMismatch:
                    example = format_amount(Decimal("1234.56"), "GBP", self.number_format)
                    errors.append(f"line {row + 1}: the {name} is not written like {example} (your number format)")
                except MoneyError as exc:
                    errors.append(f"line {row + 1}: the {name}: {exc}")
            net, tax = amounts.get("net"), amounts.get("tax")
            if net is None or tax is None:
                continue
            lines.append(Line(account_code=self._text(row, ACCOUNT), net=net, tax=tax,
                              tax_code=self._text(row, TAX_CODE), description=self._text(row, DESCRIPTION),
                              tracking=self.tracking_button(row).values()))
        return lines, errors

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""

    def _amount_text(self, amount: Decimal) -> str:
        return format_amount(amount, self.currency, self.number_format)

    def _show_totals(self) -> None:
        lines, errors = self.read_lines()
        if errors:
            self.totals.setText("")
            return
        net = sum((line.net for line in lines), Decimal(0))
        tax = sum((line.tax for line in lines), Decimal(0))
        fmt, currency = self.number_format, self.currency
        self.totals.setText(f"Lines: net {format_amount(net, currency, fmt)} + tax {format_amount(tax, currency, fmt)}"
                            f" = {format_amount(net + tax, currency, fmt)} {currency or ''}".rstrip())
