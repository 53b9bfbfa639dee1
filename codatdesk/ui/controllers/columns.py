"""The expense table's column widths: from the font and the content, never from fixed pixels.

Each column gets the width of its header (with the sort arrow) or of a typical value in the
current font, whichever is wider; Supplier and Account widen to the rows shown, up to a cap.
Description takes the room left but never less than its header: when the window is too narrow
it stops stretching and the table scrolls sideways instead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QHeaderView, QTableView

from codatdesk.states import ExpenseStatus
from codatdesk.ui.expense_model import HEADERS, Column
from codatdesk.ui.formatting import format_money
from codatdesk.ui.status_delegate import StatusChipDelegate

if TYPE_CHECKING:
    from PySide6.QtGui import QFontMetrics

    from codatdesk.ui.expense_model import ExpenseTableModel

# A typical value per column (its width in the font is the column's starting width).
_SAMPLES = {Column.DATE: "2024-12-31", Column.SUPPLIER: "Premier Inn Ltd", Column.ACCOUNT: "429 · General Expenses",
            Column.CURRENCY: "GBP", Column.UPDATED: "2024-12-31 23:59"}
_CONTENT_SAMPLE_ROWS = 500  # rows measured for Supplier and Account (enough to be typical, fast to measure)
_CONTENT_CAP_CHARS = 34  # Supplier and Account never take more than this many average characters


def column_widths(metrics: QFontMetrics, model: ExpenseTableModel | None = None) -> dict[Column, int]:
    """The starting width of every column in the font of ``metrics``: its header (with room for the
    sort arrow) or its content, whichever is wider; without rows, a typical value stands for the content."""
    cell = 14  # the cell's margins and the grid line
    widths = {column: metrics.horizontalAdvance(HEADERS[column]) + metrics.height() + cell for column in Column}
    rows = [model.row_at(i) for i in range(min(model.rowCount(), _CONTENT_SAMPLE_ROWS))] if model is not None else []

    def content(column: Column) -> list[int]:
        return sorted(metrics.horizontalAdvance(model.display_text(row, column)) for row in rows) if rows else []

    for column, sample in _SAMPLES.items():
        widths[column] = max(widths[column], metrics.horizontalAdvance(sample) + cell)
    for column in (Column.NET, Column.TAX, Column.TOTAL):  # amounts are never cut: the widest one shown
        widest = content(column)[-1] if rows else metrics.horizontalAdvance(format_money(Decimal("-9999.99"), "GBP"))
        widths[column] = max(widths[column], widest + cell)
    cap = metrics.averageCharWidth() * _CONTENT_CAP_CHARS + cell
    for column in (Column.SUPPLIER, Column.ACCOUNT):
        if rows:  # most rows whole; a rare long one is elided (its tooltip says it all)
            typical = content(column)[int(len(rows) * 0.9)] + cell
            widths[column] = min(cap, max(metrics.horizontalAdvance(HEADERS[column]) + metrics.height() + cell,
                                          typical))
    chip = StatusChipDelegate.ICON + 2 * (StatusChipDelegate.PAD + StatusChipDelegate.MARGIN_X) + 8
    widest_status = max(metrics.horizontalAdvance(s.value) for s in ExpenseStatus)
    if rows:  # a receipt still uploading or failed is part of the status: never elided away
        widest_status = max(widest_status, content(Column.STATUS)[-1])
    widths[Column.STATUS] = max(widths[Column.STATUS], widest_status + chip)
    return widths


def description_minimum(metrics: QFontMetrics) -> int:
    return metrics.horizontalAdvance(HEADERS[Column.DESCRIPTION]) + metrics.height() + 12


class ColumnSizer(QObject):
    """Sizes ``table``'s columns from its font and rows, and keeps Description readable."""

    def __init__(self, table: QTableView, model: ExpenseTableModel) -> None:
        super().__init__(table)
        self.table = table
        self.model = model
        self._adjusting = False
        header = table.horizontalHeader()
        header.sectionResized.connect(self._on_section_resized)
        table.viewport().installEventFilter(self)

    @property
    def minimum_description(self) -> int:
        return description_minimum(self.table.horizontalHeader().fontMetrics())

    def apply(self, *, content: bool = True) -> None:
        """Set every column but Description (which takes the room left) to its width."""
        widths = column_widths(self.table.fontMetrics(), self.model if content else None)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(min(40, self.minimum_description))
        self._adjusting = True
        try:
            for column, width in widths.items():
                if column != Column.DESCRIPTION:
                    header.resizeSection(column, max(width, header.fontMetrics().horizontalAdvance(HEADERS[column])))
        finally:
            self._adjusting = False
        self.keep_description_readable()

    def keep_description_readable(self) -> None:
        """Stretch Description over the room left; when that is less than its header, stop stretching
        and give it its header's width (the table then scrolls sideways)."""
        if self._adjusting:
            return
        header = self.table.horizontalHeader()
        others = sum(header.sectionSize(c) for c in Column if c != Column.DESCRIPTION and not header.isSectionHidden(c))
        room = self.table.viewport().width() - others
        minimum = self.minimum_description
        self._adjusting = True
        try:
            if room >= minimum:
                header.setSectionResizeMode(Column.DESCRIPTION, QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(Column.DESCRIPTION, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(Column.DESCRIPTION, minimum)
        finally:
            self._adjusting = False

    def _on_section_resized(self, section: int, _old: int, _new: int) -> None:
        if section != Column.DESCRIPTION or _new < self.minimum_description:
            self.keep_description_readable()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.keep_description_readable()
        return False
