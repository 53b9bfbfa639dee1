"""CSV export that a spreadsheet opens safely (Qt-free; the window's export uses it)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

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
