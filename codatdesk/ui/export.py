"""Export the table as the user sees it (filtered, sorted) to CSV a spreadsheet opens safely.

The columns and cells are the core's (:mod:`codatdesk.export`), so an export imports back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel

from codatdesk.core_api import ExpenseRow
from codatdesk.export import EXPORT_HEADER, expense_cells, export_expenses, spreadsheet_safe
from codatdesk.ui.expense_model import ExpenseTableModel, IdRole

HEADER = EXPORT_HEADER


def row_cells(row: ExpenseRow) -> list[str]:
    return expense_cells(row)


def visible_rows(proxy: QSortFilterProxyModel) -> list[ExpenseRow]:
    model = proxy.sourceModel()
    assert isinstance(model, ExpenseTableModel)
    rows = []
    for r in range(proxy.rowCount()):
        row = model.row_for_id(proxy.index(r, 0).data(IdRole))
        if row is not None:
            rows.append(row)
    return rows


def export_csv(rows: list[ExpenseRow], path: str | Path, details: dict | None = None) -> int:
    """Write ``rows`` in order (cells escaped by :func:`codatdesk.export.spreadsheet_safe`); returns how many
    rows were written (a split expense is one per line: ``details``, ``CoreAPI.export_details``)."""
    return export_expenses(rows, path, details)


__all__ = ["HEADER", "export_csv", "export_expenses", "row_cells", "spreadsheet_safe", "visible_rows"]
