"""Export the table as the user sees it (filtered, sorted) to CSV a spreadsheet opens safely."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel

from codatdesk.export import spreadsheet_safe, write_csv
from codatdesk.ui.expense_model import ExpenseRow, ExpenseTableModel, IdRole
from codatdesk.ui.formatting import format_timestamp

HEADER = ["Id", "Date", "Supplier", "Description", "Account code", "Account name", "Net", "Tax", "Total",
          "Currency", "Status", "Status detail", "Reference", "Last update"]


def row_cells(row: ExpenseRow) -> list[str]:
    # Amounts as plain Decimal text (no locale grouping): spreadsheets read them as numbers.
    return [str(row.id), row.date.isoformat(), row.supplier, row.description, row.account_code, row.account_name,
            format(row.net, "f"), format(row.tax, "f"), format(row.total, "f"), row.currency, row.status.value,
            row.status_detail, row.reference, format_timestamp(row.updated_at)]


def visible_rows(proxy: QSortFilterProxyModel) -> list[ExpenseRow]:
    model = proxy.sourceModel()
    assert isinstance(model, ExpenseTableModel)
    rows = []
    for r in range(proxy.rowCount()):
        row = model.row_for_id(proxy.index(r, 0).data(IdRole))
        if row is not None:
            rows.append(row)
    return rows


def export_csv(rows: list[ExpenseRow], path: str | Path) -> int:
    """Write ``rows`` in order (cells escaped by :func:`codatdesk.export.spreadsheet_safe`); returns how many."""
    return write_csv(HEADER, (row_cells(row) for row in rows), path)


__all__ = ["HEADER", "export_csv", "row_cells", "spreadsheet_safe", "visible_rows"]
