"""Export the table as the user sees it (filtered, sorted) to CSV a spreadsheet opens safely."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel

from codatdesk.ui.expense_model import ExpenseRow, ExpenseTableModel, IdRole
from codatdesk.ui.formatting import format_timestamp

# A cell starting with one of these is run as a formula by Excel/LibreOffice/Sheets
# (OWASP "CSV injection"); tab and CR are included because some importers strip them first.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

HEADER = ["Id", "Date", "Supplier", "Description", "Account code", "Account name", "Net", "Tax", "Total",
          "Currency", "Status", "Status detail", "Reference", "Last update"]


def spreadsheet_safe(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula; leave plain numbers alone."""
    if cell.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


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
    """Write ``rows`` in order; returns how many. UTF-8 with a BOM so Excel shows accents right."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([spreadsheet_safe(cell) for cell in row_cells(row)])
    return len(rows)
