"""Import expenses from CSV or Excel files, all or nothing.

Columns (header names, case-insensitive, any order; extra columns are ignored):

=================  ========  =====================================================
column             required  meaning
=================  ========  =====================================================
date               yes       ISO date ``YYYY-MM-DD`` (in Excel: a date cell)
supplier           yes       supplier name as in the ledger
description        no        free text
account_code       yes       nominal code of the expense account (e.g. ``429``)
account_name       no        name of the account; used when it must be created
bank_account       no        nominal code or name of the bank/card account that paid
tax_code           no        tax rate code (e.g. ``INPUT2``)
net                yes       amount before tax
tax                yes       tax amount
total              yes       net + tax, exactly
currency           yes       ISO 4217 code, e.g. ``GBP``
reference          no        your reference (receipt number)
line               no        1, 2, 3 ...: the row is that line of the expense with this reference
                             (same date, supplier, currency, bank account on every line)
tracking           no        tracking categories of the row's line (ids or names), ``;``-separated
department         no        one more tracking category (e.g. ``Sales``)
project            no        one more tracking category (e.g. ``Website relaunch``)
claim              no        ``yes``: an employee claim (a reimbursable expense)
type               no        Payment, Refund, Reward or Chargeback (Codat's expense transaction types;
                             Reward and Chargeback on the Expenses route only): the amounts are then
                             positive. Empty: a negative expense is a refund, as before
employee           no        the employee of a claim, as a supplier in the ledger
currency_rate      no        units of the company's base currency for 1 unit of
                             ``currency`` (Codat's ``currencyRate``), e.g. ``0.85``
                             for EUR in a GBP company; read in the file's number format
number_format      no        how the file writes numbers: ``plain`` (``1234.56``, what
                             codatdesk's export writes) or a locale (``de_DE``); the
                             same on every row
=================  ========  =====================================================

CSV files may be separated by commas, semicolons or tabs, and encoded as UTF-8 (with or
without BOM), UTF-16 or Windows-1252: both are detected and named in the report. Amounts
are read in one number format for the whole file (``1,234.56``, ``1.234,56``,
``1 234,56``, ``1'234.56``, ``12,34,567.89``), detected from its unambiguous values or
given by the user or named by the file's ``number_format`` column (:mod:`codatdesk.amounts`);
an amount that reads two ways is refused.
In ``.xlsx`` files dates and numbers come from the cells themselves, not their display.

A file with any bad line imports nothing; every bad line is reported with its line (row)
number in the file and its reason. Importing the same file again adds nothing: each row
has a fingerprint of its content (and its position among identical rows).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk import import_lines, transaction_types
from codatdesk.amounts import AmountCell, NumberFormat, detect_format
from codatdesk.amounts import number_format as format_named
from codatdesk.events import ExpensesImported
from codatdesk.export import undo_spreadsheet_escape
from codatdesk.money import MoneyError, currency_exponent, is_known_currency
from codatdesk.store.db import register, session_scope
from codatdesk.store.lines import write_lines
from codatdesk.store.models import Company, Expense

if TYPE_CHECKING:
    from codatdesk.receipts.importing import ReceiptsImported

REQUIRED_COLUMNS = ("date", "supplier", "account_code", "net", "tax", "total", "currency")
OPTIONAL_COLUMNS = ("description", "account_name", "bank_account", "tax_code", "reference",
                    "receipt",  # a file path relative to the imported file (receipts/importing.py)
                    "line", "tracking", "department", "project", "claim", "employee",  # codatdesk/import_lines.py
                    "type")  # codatdesk/transaction_types.py
AMOUNT_COLUMNS = ("net", "tax", "total")
RATE_COLUMN = "currency_rate"  # optional; read with the amounts, in the same detected number format
# Optional; names the file's number format (codatdesk's export writes "plain"), so nothing is detected.
FORMAT_COLUMN = "number_format"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_TEXT = {"supplier": 200, "description": 2000, "account_code": 40, "account_name": 200,
            "bank_account": 40, "tax_code": 40, "reference": 100, "receipt": 1000, "line": 6, "tracking": 400,
            "department": 200, "project": 200, "claim": 10, "employee": 200, "type": 20}
# A cell a spreadsheet would run as a formula (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Control characters (NUL, BEL, ESC, ...) have no place in an expense; tab and line breaks do.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
# Excel keeps 15 significant digits; a float cell holds binary noise past them (0.1+0.2).
_EXCEL_DIGITS = 15

LOCAL_COMPANY_ID = "local"
LOCAL_COMPANY_NAME = "Local (no Codat company chosen yet)"


@dataclass(frozen=True)
class LineError:
    line: int | None  # 1-based line (or sheet row) in the file; None: the file as a whole
    reason: str
    column: str = ""

    def __str__(self) -> str:
        where = []
        if self.line:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    errors: list[LineError] = field(default_factory=list)
    encoding: str = ""       # "UTF-8", "Windows-1252", ... (CSV)
    delimiter: str = ""      # "comma", "semicolon", "tab" (CSV)
    sheet: str = ""          # the worksheet read (Excel)
    number_format: str = ""  # e.g. "1.234.567,89 (de_DE), detected"
    receipts: ReceiptsImported | None = None  # files attached from the receipt column or a receipts folder

    @property
    def ok(self) -> bool:
        return not self.errors

    def how_read(self) -> str:
        parts = [p for p in (self.encoding, f"{self.delimiter}-separated" if self.delimiter else "",
                             f"sheet {self.sheet!r}" if self.sheet else "",
                             f"numbers as {self.number_format}" if self.number_format else "") if p]
        return "read as " + ", ".join(parts) if parts else ""

    def summary(self) -> str:
        how = self.how_read()
        how = f" ({how})" if how else ""
        if self.errors:
            return f"{self.path}: nothing imported, {len(self.errors)} problem(s) found{how}"
        return f"{self.path}: {self.added} expense(s) added, {self.already_present} already present{how}"


@dataclass(frozen=True)
class ParsedRow:
    line: int
    values: dict


class ImportError_(Exception):
    """The file could not be read at all (missing, encoding, size)."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.line = line


@dataclass
class Table:
    """A file's header and records, each with the line (or sheet row) it starts on."""

    header: list[str]
    header_line: int
    records: Iterator[tuple[int, list[Any]]]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


def looks_like_formula(text: str) -> bool:
    if not text:
        return False
    if text.startswith(_FORMULA_STARTS):
        return True
    # "-" starts a formula too ("-2+3+cmd|..."), but also a negative number or a dash list item.
    return text.startswith("-") and len(text) > 1 and not (_PLAIN_NUMBER.fullmatch(text) or text[1] == " ")


# ------------------------------------------------------------------ reading files


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImportError_(f"there is no file {str(path)!r}") from None
    except OSError as exc:
        raise ImportError_(f"the file cannot be opened: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ImportError_(f"{str(path)!r} is a folder, not a file")
    if size > MAX_FILE_BYTES:
        raise ImportError_(f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"the file cannot be read: {exc.strerror or exc}") from None


_ENCODING_NAMES = {"utf_8": "UTF-8", "cp1252": "Windows-1252", "utf_16": "UTF-16", "utf_16_le": "UTF-16",
                   "utf_16_be": "UTF-16", "utf_32": "UTF-32", "latin_1": "Latin-1"}


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, the encoding's name). A BOM decides; else strict UTF-8; else charset-normalizer.

    Among single-byte encodings that read a short file equally well, Windows-1252 is taken:
    it is what Excel writes for "CSV" on Western Windows.
    """
    if encoding:
        try:
            return raw.decode(encoding).removeprefix("\ufeff"), encoding
        except LookupError:
            raise ImportError_(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise ImportError_(f"byte {exc.start} cannot be read as {encoding}", _line_of(raw, exc.start)) from None
    for bom, codec, name in ((codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"), (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
                             (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise ImportError_(f"the file starts as {name} but byte {exc.start} cannot be read as {name}",
                                   _line_of(raw, exc.start)) from None
            return text.removeprefix("\ufeff"), name
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None or (b"\x00" in raw and not best.encoding.startswith("utf_16")):
        raise ImportError_(f"the file is not UTF-8 (byte {first_bad} cannot be read) and its encoding "
                           "was not recognised; save it as 'CSV UTF-8'", _line_of(raw, first_bad))
    chosen = best
    if best.encoding != "cp1252":
        western = from_bytes(raw, cp_isolation=["cp1252"]).best()
        if western is not None and western.chaos <= best.chaos:
            chosen = western
    return str(chosen), _ENCODING_NAMES.get(chosen.encoding, chosen.encoding)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def read_csv_table(raw: bytes, encoding: str | None = None) -> Table:
    text, encoding = decode(raw, encoding)
    first = text.split("\n", 1)[0]
    counts = {d: _count_outside_quotes(first, d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d])  # ties: comma first
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_("the file is empty", 1) from None
    except csv.Error as exc:
        raise ImportError_(f"not a readable CSV file: {exc}", 1) from None

    def records() -> Iterator[tuple[int, list[Any]]]:
        line_before = reader.line_num
        try:
            for record in reader:
                # A quoted cell may span lines: report the line the record starts on.
                line, line_before = line_before + 1, reader.line_num
                yield line, record
        except csv.Error as exc:
            raise ImportError_(f"not a readable CSV line: {exc}", reader.line_num) from None

    return Table(header, 1, records(), encoding=encoding, delimiter=_DELIMITERS[delimiter])


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def read_xlsx_table(path: Path) -> Table:
    """The first worksheet that has the required columns (else the first), read-only, cached values."""
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportError_(f"not a readable Excel (.xlsx) file: {exc}") from None
    first: Table | None = None
    for sheet in workbook.worksheets:
        rows = enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
        header_line, header = 0, []
        for number, values in rows:
            if any(v not in (None, "") for v in values):
                header_line, header = number, ["" if v is None else str(v) for v in values]
                break
        table = Table(header, header_line or 1, ((n, list(v)) for n, v in rows), sheet=sheet.title)
        names = _column_names(header)
        if all(c in names for c in REQUIRED_COLUMNS):
            return table
        first = first or table
    if first is None or not first.header:
        raise ImportError_("the workbook is empty", 1)
    return first


def read_table(path: Path, encoding: str | None = None) -> Table:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        read_bytes(path)  # the same existence and size checks
        return read_xlsx_table(path)
    if path.suffix.lower() == ".xls":
        raise ImportError_("old Excel (.xls) files cannot be read; save the sheet as .xlsx or CSV")
    return read_csv_table(read_bytes(path), encoding)


def _column_names(header: list[str]) -> list[str]:
    return [str(h).strip().lower().replace(" ", "_") for h in header]


# ------------------------------------------------------------------ checking rows


def parse_table(table: Table, number_format: NumberFormat | None = None) -> tuple[list[ParsedRow], list[LineError], str]:
    """(rows, errors, how the numbers were read). Amounts of the whole file are read in one format."""
    errors: list[LineError] = []
    names = _column_names(table.header)
    header_line = table.header_line
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        return [], [LineError(header_line, "missing column(s): " + ", ".join(missing))], ""
    dupes = [n for n, count in Counter(names).items() if n and count > 1]
    if dupes:
        return [], [LineError(header_line, "duplicate column(s): " + ", ".join(dupes))], ""
    index = {name: i for i, name in enumerate(names)}
    pending: list[ParsedRow] = []
    amount_cells: list[AmountCell] = []
    try:
        for line, record in table.records:
            if not any(_text(cell) for cell in record):
                continue  # blank lines are harmless
            if len(pending) >= MAX_ROWS:
                errors.append(LineError(line, f"more than {MAX_ROWS:,} rows; split the file"))
                break
            values, row_errors = _parse_record(record, index, line)
            errors.extend(row_errors)
            if not row_errors:
                pending.append(ParsedRow(line, values))
                for name in AMOUNT_COLUMNS:
                    if isinstance(values[name], str):
                        amount_cells.append(AmountCell(line, name, values[name], values["currency"]))
                if isinstance(values[RATE_COLUMN], str):  # a rate has no currency, and any number of decimals
                    amount_cells.append(AmountCell(line, RATE_COLUMN, values[RATE_COLUMN], None))
    except ImportError_ as exc:
        errors.append(LineError(exc.line, str(exc)))
    if not pending and not errors:
        errors.append(LineError(header_line + 1, "the file has a header but no expenses"))

    named, format_problems = _named_format(pending) if FORMAT_COLUMN in index else (None, {})
    if number_format is not None and named is not None and number_format != named:
        errors.append(LineError(header_line, f"the file's number_format column names {named}, but the "
                                             f"import was told {number_format}; import it without "
                                             "choosing a format, or correct the column", FORMAT_COLUMN))
    if number_format is not None:
        detection = detect_format(amount_cells, given=number_format)
    else:
        detection = detect_format(amount_cells, given=named, given_by="named in the file")
    how = f"{detection.fmt}, {detection.chosen_by}" if amount_cells else ""
    rows: list[ParsedRow] = []
    for row in pending:
        values, row_errors = dict(row.values), []
        if row.line in format_problems:
            row_errors.append(LineError(row.line, format_problems[row.line], FORMAT_COLUMN))
        for name in (*AMOUNT_COLUMNS, RATE_COLUMN):
            if isinstance(values[name], str):  # text, read in the file's number format
                problem = detection.problems.get((row.line, name))
                if problem:
                    what = "rate" if name == RATE_COLUMN else "amount"
                    row_errors.append(LineError(row.line, f"bad {what}: {problem}", name))
                else:
                    values[name] = detection.values[(row.line, name)]
        if isinstance(values[RATE_COLUMN], Decimal) and values[RATE_COLUMN] <= 0:
            row_errors.append(LineError(row.line, f"bad rate: a currency rate must be greater than 0, "
                                                  f"not {values[RATE_COLUMN]}", RATE_COLUMN))
        if import_lines.claim_flag(values["claim"]) is None:
            row_errors.append(LineError(row.line, f"bad claim {values['claim']!r}: write yes or no", "claim"))
        elif import_lines.claim_flag(values["claim"]) and not values["employee"]:
            row_errors.append(LineError(row.line, "an employee claim needs the employee (their supplier name "
                                                  "in the ledger)", "employee"))
        try:
            values["type"] = transaction_types.parse_type(values["type"])
        except ValueError as exc:
            row_errors.append(LineError(row.line, f"bad type: {exc}", "type"))
        else:
            sign = transaction_types.sign_problem(values["type"], tuple(
                values[n] for n in AMOUNT_COLUMNS if isinstance(values[n], Decimal)))
            if sign:
                row_errors.append(LineError(row.line, sign, "total"))
        if not row_errors and values["net"] + values["tax"] != values["total"]:
            row_errors.append(LineError(
                row.line, f"totals do not add up: net {values['net']} + tax {values['tax']} "
                          f"!= total {values['total']}", "total"))
        errors.extend(row_errors)
        if not row_errors:
            rows.append(ParsedRow(row.line, values))
    groups_errors = import_lines.group_rows(rows, LineError)[1] if not errors else []
    errors.extend(groups_errors)
    errors.sort(key=lambda e: (e.line or 0))
    return rows, errors, how


def _named_format(rows: list[ParsedRow]) -> tuple[NumberFormat | None, dict[int, str]]:
    """(the number format the file's ``number_format`` column names, line -> why that line's cell is wrong).

    A file has one format: the first row's decides, and a row naming none or another is refused
    rather than read in a format it may not be written in.
    """
    named: NumberFormat | None = None
    first_name, problems = "", {}
    for row in rows:
        name = row.values[FORMAT_COLUMN]
        if not name:
            problems[row.line] = "is empty; write the number format of this row's amounts (e.g. plain or de_DE)"
            continue
        try:
            fmt = format_named(name)
        except ValueError as exc:
            problems[row.line] = str(exc)
            continue
        if named is None:
            named, first_name = fmt, name
        elif fmt != named:
            problems[row.line] = (f"says {name}, but the rows above say {first_name}; a file has one number "
                                  "format: write the amounts of every row the same way and name it once")
    return named, problems


def _text(cell: Any) -> str:
    """A cell as text: strings stripped; whole numbers without '.0'; dates in ISO."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


def _parse_record(record: list[Any], index: dict[str, int], line: int) -> tuple[dict, list[LineError]]:
    """Check one record's cells. Amount cells typed as numbers (Excel) become Decimal here; amount
    text stays text until the whole file's number format is known."""
    errors: list[LineError] = []

    def cell(name: str) -> Any:
        i = index.get(name)
        return record[i] if i is not None and i < len(record) else None

    if len(record) < len(index) and any(index[c] >= len(record) for c in REQUIRED_COLUMNS):
        errors.append(LineError(line, f"has {len(record)} field(s), the header has {len(index)}"))
        return {}, errors

    values: dict = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        text = _text(cell(name))
        if name not in AMOUNT_COLUMNS:
            text = undo_spreadsheet_escape(text)  # our own export's "'" before a leading - or =
        control = _CONTROL.search(text)
        if control:
            errors.append(LineError(line, f"contains a control character (U+{ord(control.group()):04X}); "
                                          "is this a text CSV file?", name))
        elif name in REQUIRED_COLUMNS and not text:
            errors.append(LineError(line, "is empty", name))
        elif name in MAX_TEXT and len(text) > MAX_TEXT[name]:
            errors.append(LineError(line, f"is longer than {MAX_TEXT[name]} characters", name))
        elif name not in AMOUNT_COLUMNS and looks_like_formula(text):
            errors.append(LineError(line, "looks like a spreadsheet formula; remove the leading symbol", name))
        values[name] = text
    if errors:
        return values, errors

    date_cell = cell("date")
    if isinstance(date_cell, dt.datetime | dt.date):
        values["date"] = date_cell.date() if isinstance(date_cell, dt.datetime) else date_cell
    elif isinstance(date_cell, int | float) and not isinstance(date_cell, bool):
        errors.append(LineError(line, f"bad date: the cell holds the number {_text(date_cell)}; "
                                      "format the cell as a date", "date"))
    else:
        try:
            values["date"] = dt.date.fromisoformat(values["date"])
        except ValueError:
            errors.append(LineError(line, f"bad date {values['date']!r}; use YYYY-MM-DD", "date"))

    currency = values["currency"].upper()
    if not is_known_currency(currency):
        errors.append(LineError(line, f"unknown currency {values['currency']!r}", "currency"))
    values["currency"] = currency

    for name in AMOUNT_COLUMNS:
        raw = cell(name)
        if isinstance(raw, bool):
            errors.append(LineError(line, f"bad amount: {raw} is not an amount", name))
        elif isinstance(raw, int | float | Decimal):
            try:
                values[name] = _number_cell(raw, currency)
            except MoneyError as exc:
                errors.append(LineError(line, f"bad amount: {exc}", name))

    format_text = _text(cell(FORMAT_COLUMN))
    if _CONTROL.search(format_text):
        errors.append(LineError(line, "contains a control character; is this a text CSV file?", FORMAT_COLUMN))
    values[FORMAT_COLUMN] = format_text

    raw_rate = cell(RATE_COLUMN)  # None (no column or empty cell): the rate table decides when pushing
    rate_text = _text(raw_rate)
    if isinstance(raw_rate, bool):
        errors.append(LineError(line, f"bad rate: {raw_rate} is not a rate", RATE_COLUMN))
    elif isinstance(raw_rate, float):
        if raw_rate != raw_rate or raw_rate in (float("inf"), float("-inf")):
            errors.append(LineError(line, "bad rate: not a number", RATE_COLUMN))
        else:
            values[RATE_COLUMN] = Decimal(format(raw_rate, f".{_EXCEL_DIGITS}g"))
    elif isinstance(raw_rate, int | Decimal):
        values[RATE_COLUMN] = Decimal(raw_rate)
    elif _CONTROL.search(rate_text):
        errors.append(LineError(line, "contains a control character; is this a text CSV file?", RATE_COLUMN))
    else:
        values[RATE_COLUMN] = rate_text or None
    return values, errors


def _number_cell(value: int | float | Decimal, currency: str) -> Decimal:
    """A numeric Excel cell as Decimal, to Excel's own 15 significant digits."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MoneyError("not an amount")
        amount = Decimal(format(value, f".{_EXCEL_DIGITS}g"))
    else:
        amount = Decimal(value)
    if amount == amount.to_integral_value():
        amount = amount.quantize(Decimal(1))
    places = currency_exponent(currency) if is_known_currency(currency) else 2
    decimals = -amount.as_tuple().exponent  # type: ignore[operator]
    if decimals > places:
        raise MoneyError(f"{amount} has {decimals} decimals; {currency} has {places}")
    return amount


def fingerprint(company_id: str, values: dict, occurrence: int) -> str:
    parts = [company_id, str(values["date"]), values["supplier"], values["description"], values["account_code"],
             values["bank_account"], values["tax_code"], str(values["net"]), str(values["tax"]),
             str(values["total"]), values["currency"], values["reference"], str(occurrence)]
    if values.get("type"):  # only when named: files without the column keep their fingerprints
        parts.append(values["type"])
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def ensure_company(session, company_id: str, name: str | None = None) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        company = Company(id=company_id, name=name or (LOCAL_COMPANY_NAME if company_id == LOCAL_COMPANY_ID else company_id))
        session.add(company)
        session.flush()
    return company


def import_file(engine: Engine, path: str | Path, company_id: str, *,
                number_format: NumberFormat | None = None, encoding: str | None = None,
                receipts_folder: str | Path | None = None) -> ImportReport:
    """Import a CSV or ``.xlsx`` file into ``company_id``; ``number_format``/``encoding`` None: detect them.
    Receipts: the file's ``receipt`` column, and files in ``receipts_folder`` named by reference."""
    from codatdesk.receipts import importing as receipt_import

    path = Path(path)
    report = ImportReport(path=str(path))
    try:
        table = read_table(path, encoding)
    except ImportError_ as exc:
        report.errors.append(LineError(exc.line, str(exc)))
        return report
    report.encoding, report.delimiter, report.sheet = table.encoding, table.delimiter, table.sheet
    rows, errors, report.number_format = parse_table(table, number_format)
    errors += [LineError(row.line, problem, "receipt") for row in rows
               if (problem := receipt_import.column_problem(row.values["receipt"], path.parent))]
    report.rows = len(rows)
    if errors:
        report.errors = errors
        return report

    seen: Counter[str] = Counter()
    row_keys: list[tuple[ParsedRow, str]] = []  # every row with its expense's key, new or already present (receipts)
    groups, _errors = import_lines.group_rows(rows, LineError)  # errors were reported by parse_table
    with session_scope(engine) as session:
        ensure_company(session, company_id)
        existing = set(session.exec(select(Expense.source_key).where(Expense.company_id == company_id)).all())
        for group in groups:
            keys = []
            for row in group:
                base = fingerprint(company_id, row.values, 0)
                seen[base] += 1
                keys.append(fingerprint(company_id, row.values, seen[base] - 1))
            # One row keeps the fingerprint it always had; several: one of all of them.
            key = keys[0] if len(keys) == 1 else hashlib.sha256("+".join(keys).encode()).hexdigest()[:40]
            row_keys += [(row, key) for row in group]
            if key in existing:
                report.already_present += 1
                continue
            v = group[0].values
            lines = import_lines.lines_of_group(group)
            net, tax, total = import_lines.expense_totals(lines) if len(group) > 1 else (v["net"], v["tax"], v["total"])
            expense = Expense(
                company_id=company_id, expense_date=v["date"], supplier_name=v["supplier"],
                description=v["description"], account_code=v["account_code"], account_name=v["account_name"],
                bank_account_code=v["bank_account"], tax_code=v["tax_code"], net=net, tax=tax,
                total=total, currency=v["currency"], reference=v["reference"], source_key=key,
                currency_rate=v.get(RATE_COLUMN), is_claim=bool(import_lines.claim_flag(v["claim"])),
                employee=v["employee"], transaction_type=v.get("type"),
            )
            session.add(expense)
            if import_lines.needs_rows(lines):
                session.flush()
                write_lines(session, expense, lines)
            existing.add(key)
            report.added += 1
        if report.added:
            register(session, ExpensesImported(company_id, report.added))  # published once committed
    wanted = [(key, receipt_import.resolve(row.values["receipt"], path.parent)) for row, key in row_keys
              if row.values["receipt"]]
    unmatched: list[str] = []
    if receipts_folder is not None:
        matched, unmatched = receipt_import.match_folder(Path(receipts_folder), {
            row.values["reference"]: key for row, key in row_keys})
        wanted += matched
    if wanted or receipts_folder is not None:
        report.receipts = receipt_import.attach_files(engine, company_id, wanted)
        report.receipts.unmatched = unmatched
    return report
