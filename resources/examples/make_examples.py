"""Writes the import examples next to this script: ``python resources/examples/make_examples.py``.

The README's "Importing your expenses" shows them and tests/test_import_examples.py imports each
one, so what they say stays true. The same five expenses in every file:

- ``expenses-uk.csv``: UTF-8, comma-separated, amounts like ``1,234.56`` (quoted, as they hold commas)
- ``expenses-de.csv``: Windows-1252, semicolon-separated, amounts like ``1.234,56``, as German Excel saves CSV
- ``expenses.xlsx``: date and number cells (the cells' values count, not how they are displayed)
- ``expenses-fr-text.xlsx``: amounts typed as text in French format (``1 234,56``), as pasted sheets hold them
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["date", "supplier", "description", "account_code", "account_name", "bank_account", "tax_code",
          "net", "tax", "total", "currency", "reference", "currency_rate"]
ROWS = [
    ("2026-11-02", "Northern Rail", "Train to client site (Leeds)", "493", "Travel", "090", "INPUT2",
     "45.00", "9.00", "54.00", "GBP", "EX-101", ""),
    ("2026-11-03", "Café Müller", "Team lunch, Berlin office", "429", "General Expenses", "090", "INPUT2",
     "84.03", "15.97", "100.00", "EUR", "EX-102", "0.85"),
    ("2026-11-05", "Dell Technologies", "Laptop for new starter", "429", "General Expenses", "090", "INPUT2",
     "1234.56", "246.91", "1481.47", "GBP", "EX-103", ""),
    ("2026-11-06", "Printing Co.", "Refund: misprinted flyers", "400", "Advertising", "090", "INPUT2",
     "-120.00", "-24.00", "-144.00", "GBP", "EX-104", ""),
    ("2026-11-09", "Royal Mail", "Parcels", "425", "Postage", "090", "",
     "12.50", "0", "12.50", "GBP", "EX-105", ""),
]
AMOUNTS = (7, 8, 9)
RATE = 12  # GBP per 1 EUR for the one euro expense (the examples' company keeps its books in GBP)


def written(value: str, decimal: str, group: str) -> str:
    whole, _, fraction = f"{Decimal(value):.2f}".partition(".")
    sign, whole = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + group.join(groups) + decimal + fraction


def csv_bytes(decimal: str, group: str, delimiter: str, encoding: str) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in ROWS:
        writer.writerow([written(v, decimal, group) if i in AMOUNTS or (i == RATE and v) else v
                         for i, v in enumerate(row)])
    return out.getvalue().encode(encoding)


def xlsx(path: Path, *, text_amounts: bool) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Expenses"
    sheet.append(HEADER)
    for row in ROWS:
        cells: list = list(row)
        cells[0] = dt.date.fromisoformat(row[0])
        for i in AMOUNTS:
            cells[i] = written(row[i], ",", "\u00a0") if text_amounts else float(row[i])
        if row[RATE]:
            cells[RATE] = written(row[RATE], ",", "\u00a0") if text_amounts else float(row[RATE])
        sheet.append(cells)
        sheet.cell(sheet.max_row, 1).number_format = "DD/MM/YYYY"  # displayed the UK way, read as a date
        for i in AMOUNTS:
            if not text_amounts:
                sheet.cell(sheet.max_row, i + 1).number_format = "#,##0.00"
    # A fixed creation time, so the file is the same each time it is written.
    workbook.properties.created = workbook.properties.modified = dt.datetime(2026, 11, 30)  # noqa: DTZ001 - fixed, so the file is reproducible
    workbook.save(path)


def write_all() -> None:
    (HERE / "expenses-uk.csv").write_bytes(csv_bytes(".", ",", ",", "utf-8"))
    (HERE / "expenses-de.csv").write_bytes(csv_bytes(",", ".", ";", "cp1252"))
    xlsx(HERE / "expenses.xlsx", text_amounts=False)
    xlsx(HERE / "expenses-fr-text.xlsx", text_amounts=True)


if __name__ == "__main__":
    write_all()
