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
_SAMPLES = {Column.DATE: "2024-12-31", Column.SUPPLIER: "Amazon Web Services", Column.DESCRIPTION: "Taxi to the airport",
            Column.ACCOUNT: "7790 · Software subscriptions", Column.CURRENCY: "GBP", Column.UPDATED: "2024-12-31 23:59"}
_CONTENT_SAMPLE_ROWS = 500  # rows measured for Supplier and Account (enough to be typical, fast to measure)
_CONTENT_CAP_CHARS = 34  # Supplier and Account never take more than this many average characters


def column_widths(metrics: QFontMetrics, model: ExpenseTableModel | None = None) -> dict[Column, int]:
    """The starting width of every column in the font of ``metrics``, widened to ``model``'s rows."""
    pad = metrics.height() + 12  # the cell margins and the header's sort arrow
    widths = {column: metrics.horizontalAdvance(HEADERS[column]) + pad for column in Column}
    for column, sample in _SAMPLES.items():
        widths[column] = max(widths[column], metrics.horizontalAdvance(sample) + pad)
    money = format_money(Decimal("-99999.99"), "GBP")
    for column in (Column.NET, Column.TAX, Column.TOTAL):
        widths[column] = max(widths[column], metrics.horizontalAdvance(money) + pad)
    chip = StatusChipDelegate.ICON + 2 * (StatusChipDelegate.PAD + StatusChipDelegate.MARGIN_X) + 8
    widths[Column.STATUS] = max(widths[Column.STATUS],
                                max(metrics.horizontalAdvance(s.value) for s in ExpenseStatus) + chip + 8)
    if model is not None and model.rowCount():
        cap = metrics.averageCharWidth() * _CONTENT_CAP_CHARS + pad
        for column in (Column.SUPPLIER, Column.ACCOUNT):
            texts = sorted(metrics.horizontalAdvance(model.display_text(model.row_at(i), column))
                           for i in range(min(model.rowCount(), _CONTENT_SAMPLE_ROWS)))
            typical = texts[int(len(texts) * 0.9)] + pad  # most rows whole; a rare long one is elided
            widths[column] = min(cap, max(widths[column], typical))
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
