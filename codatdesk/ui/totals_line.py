"""Totals under the table: the rows shown (after the filters) and the selection, per currency.

Amounts of different currencies are never added together; each currency gets its own sum,
written by ``amounts.format_amount`` (through ``formatting.format_money``) like the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QLocale, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from codatdesk.core_api import ExpenseRow
from codatdesk.core_api import totals_by_currency as rows_totals
from codatdesk.ui.formatting import format_money


def totals_by_currency(rows: Iterable[object]) -> dict[str, Decimal]:
    """Sum of ``row.total`` per ``row.currency`` (Decimal, exact), currencies in alphabetical order. The
    table's rows are added by the read model (in their stored integer units: fast for 10,000 rows)."""
    listed: list[Any] = rows if isinstance(rows, list) else list(rows)
    if set(map(type, listed)) <= {ExpenseRow}:  # the table's own rows (checked in C): all added by the read model
        return rows_totals(listed)
    table_rows: list[ExpenseRow] = []
    sums: dict[str, Decimal] = {}
    for row in listed:
        if isinstance(row, ExpenseRow):
            table_rows.append(row)
        else:
            sums[row.currency] = sums.get(row.currency, Decimal(0)) + row.total
    for currency, total in rows_totals(table_rows).items():
        sums[currency] = sums[currency] + total if currency in sums else total
    return dict(sorted(sums.items()))


def say_totals(sums: dict[str, Decimal], locale: QLocale | None = None) -> str:
    """"GBP 1,234.50 · EUR 20.00" (or "—" for none)."""
    return " · ".join(f"{currency} {format_money(total, currency, locale)}" for currency, total in sums.items()) or "—"


def totals_text(shown: list[object], selected: list[object], locale: QLocale | None = None) -> str:
    text = f"Total of the {len(shown)} shown: {say_totals(totals_by_currency(shown), locale)}"
    if len(selected) > 1:
        text += f"   |   {len(selected)} selected: {say_totals(totals_by_currency(selected), locale)}"
    return text


class TotalsLine(QLabel):
    """Recounted a moment after the rows or the selection change (one pass however many changes)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("totalsLine")
        self.setAccessibleName("Totals")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._rows = lambda: ([], [])
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self.recount)

    def set_source(self, rows) -> None:
        """``rows()``: (the rows shown, the rows selected)."""
        self._rows = rows

    def schedule(self, *_args: object) -> None:
        # At most one recount a tick, and one during a stream of changes too (restarting the timer at each
        # change would put it off until the stream pauses).
        if not self._timer.isActive():
            self._timer.start()

    def recount(self) -> None:
        shown, selected = self._rows()
        self.setText(totals_text(shown, selected) if shown else "")
