"""CSV export that a spreadsheet opens safely and the importer reads back exactly (Qt-free; the window uses it).

Amounts are written plain (``-1234.500``, the currency's decimals, no grouping) and every row
says so in a *Number format* column (``plain``). The column matters: plain ``1.000`` of a
three-decimal currency (KWD) is also German for 1000, so without it a file whose amounts are
all like that could not be read back without guessing (the importer refuses to guess).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from codatdesk.amounts import PLAIN_NAME, plain_amount

# A cell starting with one of these is run as a formula by Excel/LibreOffice/Sheets
# (OWASP "CSV injection"); tab and CR are included because some importers strip them first,
# and for the same reason a formula sign after leading whitespace counts too.
_FORMULA_SIGNS = ("=", "+", "-", "@")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def spreadsheet_safe(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula; leave plain numbers alone."""
    head = cell.lstrip()
    risky = cell.startswith(("\t", "\r")) or head.startswith(_FORMULA_SIGNS)
    if risky and not _PLAIN_NUMBER.fullmatch(head.rstrip()):
        return "'" + cell
    return cell


def undo_spreadsheet_escape(cell: str) -> str:
    """The cell before :func:`spreadsheet_safe` escaped it (the importer reads our exports back)."""
    if cell.startswith("'") and spreadsheet_safe(cell[1:]) == cell:
        return cell[1:]
    return cell


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]], path: str | Path) -> int:
    """Write ``rows`` under ``header``, every cell made spreadsheet-safe; returns how many rows.

    UTF-8 with a BOM so Excel shows accents right.
    """
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([spreadsheet_safe(cell) for cell in header])
        for row in rows:
            writer.writerow([spreadsheet_safe(cell) for cell in row])
            count += 1
    return count


# (header, attribute of the row). Every column the importer reads is here under a header it
# recognises ("Account code" -> account_code); the rest (id, status, ...) it ignores.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Id", "id"), ("Date", "date"), ("Supplier", "supplier"), ("Description", "description"),
    ("Account code", "account_code"), ("Account name", "account_name"), ("Bank account", "bank_account"),
    ("Tax code", "tax_code"), ("Net", "net"), ("Tax", "tax"), ("Total", "total"), ("Currency", "currency"),
    ("Reference", "reference"), ("Status", "status"), ("Status detail", "status_detail"),
    ("Last update", "updated_at"),
)
AMOUNT_ATTRIBUTES = ("net", "tax", "total")
# The importer reads the amounts of a file with this column in the format it names.
NUMBER_FORMAT_HEADER = "Number format"
EXPORT_HEADER = [*(header for header, _attribute in EXPORT_COLUMNS), NUMBER_FORMAT_HEADER]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "value") and isinstance(value.value, str):  # a status enum
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal: plain digits, every decimal kept, no grouping
        return format(value, "f")
    return str(value)


def expense_cells(row: Any) -> list[str]:
    """One row (anything with the attributes of EXPORT_COLUMNS) as export cells, under EXPORT_HEADER."""
    cells = []
    for _header, attribute in EXPORT_COLUMNS:
        value = getattr(row, attribute)
        if attribute in AMOUNT_ATTRIBUTES and value is not None:
            cells.append(plain_amount(value, row.currency or ""))
        else:
            cells.append(_cell(value))
    return [*cells, PLAIN_NAME]


def export_expenses(rows: Iterable[Any], path: str | Path) -> int:
    """Write ``rows`` in order, every cell spreadsheet-safe; returns how many."""
    return write_csv(EXPORT_HEADER, (expense_cells(row) for row in rows), path)
