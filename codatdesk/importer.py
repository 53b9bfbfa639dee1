"""CSV import, all or nothing.

Columns (header names, case-insensitive, any order; extra columns are ignored):

=================  ========  =====================================================
column             required  meaning
=================  ========  =====================================================
date               yes       ISO date ``YYYY-MM-DD``
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
=================  ========  =====================================================

A file with any bad line imports nothing; every bad line is reported with its
line number and reason. Importing the same file again adds nothing: each row
has a fingerprint of its content (and its position among identical rows).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk.events import EventBus, ExpensesImported
from codatdesk.money import MoneyError, is_known_currency, parse_amount
from codatdesk.store.db import session_scope
from codatdesk.store.models import Company, Expense

REQUIRED_COLUMNS = ("date", "supplier", "account_code", "net", "tax", "total", "currency")
OPTIONAL_COLUMNS = ("description", "account_name", "bank_account", "tax_code", "reference")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_TEXT = {"supplier": 200, "description": 2000, "account_code": 40, "account_name": 200,
            "bank_account": 40, "tax_code": 40, "reference": 100}
# A cell a spreadsheet would run as a formula (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Control characters (NUL, BEL, ESC, ...) have no place in an expense; tab and line breaks do.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

LOCAL_COMPANY_ID = "local"
LOCAL_COMPANY_NAME = "Local (no Codat company chosen yet)"


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based line number in the file; 1 is the header
    reason: str
    column: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"{self.path}: nothing imported, {len(self.errors)} problem(s) found"
        return f"{self.path}: {self.added} expense(s) added, {self.already_present} already present"


@dataclass(frozen=True)
class ParsedRow:
    line: int
    values: dict


class ImportError_(Exception):
    """The file could not be read at all (encoding, size)."""


def looks_like_formula(text: str) -> bool:
    if not text:
        return False
    if text.startswith(_FORMULA_STARTS):
        return True
    # "-" starts a formula too ("-2+3+cmd|..."), but also a negative number or a dash list item.
    return text.startswith("-") and len(text) > 1 and not (_PLAIN_NUMBER.fullmatch(text) or text[1] == " ")


def read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportError_(f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # tolerates the BOM that Excel writes
    except UnicodeDecodeError as exc:
        raise ImportError_(
            f"the file is not UTF-8 (byte {exc.start} cannot be read); save it as 'CSV UTF-8'"
        ) from None


def parse_csv(text: str) -> tuple[list[ParsedRow], list[LineError]]:
    errors: list[LineError] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [LineError(1, "the file is empty")]
    except csv.Error as exc:
        return [], [LineError(1, f"not a readable CSV file: {exc}")]
    names = [h.strip().lower().replace(" ", "_") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        return [], [LineError(1, "missing column(s): " + ", ".join(missing))]
    dupes = [n for n, count in Counter(names).items() if n and count > 1]
    if dupes:
        return [], [LineError(1, "duplicate column(s): " + ", ".join(dupes))]
    index = {name: i for i, name in enumerate(names)}
    rows: list[ParsedRow] = []
    try:
        line_before = reader.line_num
        for record in reader:
            # A quoted cell may span lines: report the line the record starts on.
            line, line_before = line_before + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are harmless
            if len(rows) >= MAX_ROWS:
                errors.append(LineError(line, f"more than {MAX_ROWS:,} rows; split the file"))
                break
            values, row_errors = _parse_record(record, index, line)
            errors.extend(row_errors)
            if not row_errors:
                rows.append(ParsedRow(line, values))
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"not a readable CSV line: {exc}"))
    if not rows and not errors:
        errors.append(LineError(2, "the file has a header but no expenses"))
    return rows, errors


def _parse_record(record: list[str], index: dict[str, int], line: int) -> tuple[dict, list[LineError]]:
    errors: list[LineError] = []

    def cell(name: str) -> str:
        i = index.get(name)
        return record[i].strip() if i is not None and i < len(record) else ""

    if len(record) < len(index) and any(index[c] >= len(record) for c in REQUIRED_COLUMNS):
        errors.append(LineError(line, f"has {len(record)} field(s), the header has {len(index)}"))
        return {}, errors

    values: dict = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        text = cell(name)
        control = _CONTROL.search(text)
        if control:
            errors.append(LineError(line, f"contains a control character (U+{ord(control.group()):04X}); "
                                          "is this a text CSV file?", name))
        elif name in REQUIRED_COLUMNS and not text:
            errors.append(LineError(line, "is empty", name))
        elif name in MAX_TEXT and len(text) > MAX_TEXT[name]:
            errors.append(LineError(line, f"is longer than {MAX_TEXT[name]} characters", name))
        elif name not in ("net", "tax", "total") and looks_like_formula(text):
            errors.append(LineError(line, "looks like a spreadsheet formula; remove the leading symbol", name))
        values[name] = text
    if errors:
        return values, errors

    try:
        values["date"] = dt.date.fromisoformat(values["date"])
    except ValueError:
        errors.append(LineError(line, f"bad date {values['date']!r}; use YYYY-MM-DD", "date"))

    currency = values["currency"].upper()
    if not is_known_currency(currency):
        errors.append(LineError(line, f"unknown currency {values['currency']!r}", "currency"))
        currency_for_amounts = None
    else:
        currency_for_amounts = currency
    values["currency"] = currency

    for name in ("net", "tax", "total"):
        try:
            values[name] = parse_amount(values[name], currency_for_amounts)
        except MoneyError as exc:
            errors.append(LineError(line, f"bad amount: {exc}", name))
    if not errors and values["net"] + values["tax"] != values["total"]:
        errors.append(LineError(
            line, f"totals do not add up: net {values['net']} + tax {values['tax']} != total {values['total']}", "total"))
    return values, errors


def fingerprint(company_id: str, values: dict, occurrence: int) -> str:
    parts = [company_id, str(values["date"]), values["supplier"], values["description"], values["account_code"],
             values["bank_account"], values["tax_code"], str(values["net"]), str(values["tax"]),
             str(values["total"]), values["currency"], values["reference"], str(occurrence)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def ensure_company(session, company_id: str, name: str | None = None) -> Company:  # noqa: ANN001
    company = session.get(Company, company_id)
    if company is None:
        company = Company(id=company_id, name=name or (LOCAL_COMPANY_NAME if company_id == LOCAL_COMPANY_ID else company_id))
        session.add(company)
        session.flush()
    return company


def import_csv(engine: Engine, path: str | Path, company_id: str, *, bus: EventBus | None = None) -> ImportReport:
    path = Path(path)
    report = ImportReport(path=str(path))
    try:
        text = read_text(path)
    except (ImportError_, OSError) as exc:
        report.errors.append(LineError(0, str(exc)))
        return report
    rows, errors = parse_csv(text)
    report.rows = len(rows)
    if errors:
        report.errors = errors
        return report

    seen: Counter[str] = Counter()
    with session_scope(engine) as session:
        ensure_company(session, company_id)
        existing = set(session.exec(select(Expense.source_key).where(Expense.company_id == company_id)).all())
        for row in rows:
            base = fingerprint(company_id, row.values, 0)
            seen[base] += 1
            key = fingerprint(company_id, row.values, seen[base] - 1)
            if key in existing:
                report.already_present += 1
                continue
            v = row.values
            session.add(Expense(
                company_id=company_id, expense_date=v["date"], supplier_name=v["supplier"],
                description=v["description"], account_code=v["account_code"], account_name=v["account_name"],
                bank_account_code=v["bank_account"], tax_code=v["tax_code"], net=v["net"], tax=v["tax"],
                total=v["total"], currency=v["currency"], reference=v["reference"], source_key=key,
            ))
            existing.add(key)
            report.added += 1
    if bus is not None and report.added:
        bus.publish(ExpensesImported(company_id, report.added))
    return report
