"""CSV export that a spreadsheet opens safely and the importer reads back exactly (Qt-free; the window uses it).

Amounts are written plain (``-1234.500``, the currency's decimals, no grouping) and every row
says so in a *Number format* column (``plain``). The column matters: plain ``1.000`` of a
three-decimal currency (KWD) is also German for 1000, so without it a file whose amounts are
all like that could not be read back without guessing (the importer refuses to guess).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
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
# Split lines, tracking and claims (codatdesk/import_lines.py reads them back): a split expense is one
# row per line under its reference, each with the line's account, tax code, amounts and tracking.
LINE_HEADERS = ("Line", "Tracking", "Claim", "Employee")
EXPORT_HEADER = [*(header for header, _attribute in EXPORT_COLUMNS), NUMBER_FORMAT_HEADER, *LINE_HEADERS]
_LINE_ATTRIBUTES = {"account_code": "account_code", "tax_code": "tax_code", "net": "net", "tax": "tax",
                    "total": "total", "description": "description"}


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


def expense_cells(row: Any, line: Any = None, details: Any = None, number: int = 0) -> list[str]:
    """One row (anything with the attributes of EXPORT_COLUMNS) as export cells, under EXPORT_HEADER;
    ``line`` (a ``codatdesk.lines.Line``): that line of a split expense instead of the expense's own
    account, tax code and amounts; ``details`` (``store.lines.ExportDetails``): its claim and employee."""
    cells = []
    for _header, attribute in EXPORT_COLUMNS:
        value = getattr(line if line is not None and attribute in _LINE_ATTRIBUTES else row, attribute)
        if attribute in AMOUNT_ATTRIBUTES and value is not None:
            cells.append(plain_amount(value, row.currency or ""))
        else:
            cells.append(_cell(value))
    tracking = "; ".join(line.tracking) if line is not None else ""
    claim = "yes" if details is not None and details.is_claim else ""
    split = line is not None and len(details.lines) > 1
    return [*cells, PLAIN_NAME, str(number) if split else "", tracking, claim,
            details.employee if details is not None else ""]


def export_expenses(rows: Iterable[Any], path: str | Path, details: Mapping[int, Any] | None = None) -> int:
    """Write ``rows`` in order, every cell spreadsheet-safe; returns how many rows were written.
    ``details`` (``store.lines.export_details``): each expense's lines, claim and employee by id; a
    split expense is written as one row per line."""
    details = details or {}

    def cells() -> Iterable[list[str]]:
        for row in rows:
            extra = details.get(row.id)
            lines = extra.lines if extra is not None else ()
            if lines:
                yield from (expense_cells(row, line, extra, number) for number, line in enumerate(lines, start=1))
            else:
                yield expense_cells(row, None, extra)

    return write_csv(EXPORT_HEADER, cells(), path)
