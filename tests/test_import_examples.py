"""The README's import examples, Excel import, and export -> import giving the same rows."""

from __future__ import annotations

import datetime as dt
import importlib.util
import string
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from codatdesk.export import export_expenses
from codatdesk.importer import MAX_TEXT, import_file, looks_like_formula
from codatdesk.money import currency_exponent
from codatdesk.store.models import Expense

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
FIELDS = ("date", "supplier", "description", "account_code", "account_name", "bank_account", "tax_code",
          "net", "tax", "total", "currency", "reference")


def examples_script():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stored(db) -> list[tuple]:
    with Session(db) as session:
        expenses = session.exec(select(Expense).order_by(Expense.id)).all()
    return [(e.expense_date.isoformat(), e.supplier_name, e.description, e.account_code, e.account_name,
             e.bank_account_code, e.tax_code, e.net, e.tax, e.total, e.currency, e.reference) for e in expenses]


def stored_rates(db) -> list:
    with Session(db) as session:
        return [e.currency_rate for e in session.exec(select(Expense).order_by(Expense.id)).all()]


def expected_rows() -> list[tuple]:
    return [tuple(Decimal(v) if i in (7, 8, 9) else v for i, v in enumerate(row[:12])) for row in examples_script().ROWS]


@pytest.mark.parametrize("name,how", [
    ("expenses-uk.csv", ["UTF-8", "comma-separated", "1,234,567.89"]),
    ("expenses-de.csv", ["Windows-1252", "semicolon-separated", "1.234.567,89"]),
    ("expenses.xlsx", ["sheet 'Expenses'"]),
    ("expenses-fr-text.xlsx", ["sheet 'Expenses'", "1\u202f234\u202f567,89"]),
])
def test_each_readme_example_imports_the_same_five_expenses(db, name, how):
    report = import_file(db, EXAMPLES / name, "c")
    assert report.ok, [str(e) for e in report.errors]
    assert report.added == 5
    for words in how:
        assert words in report.summary(), report.summary()
    rows = stored(db)
    assert rows == expected_rows()
    rates = [Decimal(r) if r not in (None, "") else None for r in stored_rates(db)]
    assert rates == [Decimal(row[12]) if row[12] else None for row in examples_script().ROWS]


def test_the_csv_examples_match_their_script():
    script = examples_script()
    assert (EXAMPLES / "expenses-uk.csv").read_bytes() == script.csv_bytes(".", ",", ",", "utf-8")
    assert (EXAMPLES / "expenses-de.csv").read_bytes() == script.csv_bytes(",", ".", ";", "cp1252")


# ------------------------------------------------------------------ Excel


def workbook(tmp_path: Path, rows: list[list], header: list[str] | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header or list(FIELDS))
    for row in rows:
        sheet.append(row)
    path = tmp_path / "x.xlsx"
    book.save(path)
    return path


GOOD_CELLS = [dt.date(2026, 11, 2), "Rail", "Train", 493, "Travel", "090", "INPUT2", 45, 9, 54, "GBP", "R1"]


def test_excel_numbers_come_from_the_cells_to_excels_own_precision(db, tmp_path):
    row = list(GOOD_CELLS)
    row[7], row[8], row[9] = 0.1, 0.2, 0.1 + 0.2  # 0.30000000000000004 in the cell, 0.3 in Excel
    report = import_file(db, workbook(tmp_path, [row]), "c")
    assert report.ok, [str(e) for e in report.errors]
    (expense,) = stored(db)
    assert expense[3] == "493" and expense[7:10] == (Decimal("0.1"), Decimal("0.2"), Decimal("0.3"))


def test_excel_cells_that_are_not_what_the_column_needs_are_refused_on_their_row(db, tmp_path):
    too_precise = list(GOOD_CELLS)
    too_precise[7], too_precise[9] = 45.001, 54.001
    serial_date = list(GOOD_CELLS)
    serial_date[0] = 46000
    empty_formula = list(GOOD_CELLS)
    empty_formula[9] = "=H4+I4"  # openpyxl writes no cached value: Excel never computed it
    report = import_file(db, workbook(tmp_path, [GOOD_CELLS, too_precise, serial_date, empty_formula]), "c")
    said = {(e.line, e.column): e.reason for e in report.errors}
    assert said.keys() == {(3, "net"), (3, "total"), (4, "date"), (5, "total")}, said
    assert "3 decimals; GBP has 2" in said[(3, "net")]
    assert "format the cell as a date" in said[(4, "date")]
    assert "is empty" in said[(5, "total")]
    assert stored(db) == []


def test_an_excel_file_without_the_columns_names_them_and_a_broken_one_says_so(db, tmp_path):
    report = import_file(db, workbook(tmp_path, [["x"]], header=["date", "supplier"]), "c")
    assert report.errors[0].line == 1 and "missing column(s): account_code" in report.errors[0].reason
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "not a readable Excel" in str(import_file(db, broken, "c").errors[0])


def test_text_dates_and_amounts_in_excel_are_read_like_csv_text(db, tmp_path):
    row = list(GOOD_CELLS)
    row[0], row[7], row[8], row[9] = "2026-11-02", "1.234,50", "9,00", "1.243,50"
    report = import_file(db, workbook(tmp_path, [row]), "c")
    assert report.ok, [str(e) for e in report.errors]
    assert stored(db)[0][7:10] == (Decimal("1234.50"), Decimal("9.00"), Decimal("1243.50"))


# ------------------------------------------------------------------ export -> import

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,;:'\"()&/-éüß€£\n", min_size=1, max_size=30)


def _clean(text: str) -> str:
    return text.strip()


@st.composite
def expense_rows(draw: st.DrawFn) -> SimpleNamespace:
    currency = draw(st.sampled_from(["GBP", "EUR", "JPY", "KWD", "CHF"]))
    places = currency_exponent(currency)
    net = Decimal(draw(st.integers(-10**9, 10**9))).scaleb(-places)
    tax = Decimal(draw(st.integers(-10**7, 10**7))).scaleb(-places)

    def text(name: str, required: bool) -> str:
        value = _clean(draw(_TEXT if required else st.one_of(st.just(""), _TEXT)))[:MAX_TEXT.get(name, 100)]
        if (required and not value) or looks_like_formula(value):
            value = "x" + value
        return value

    return SimpleNamespace(
        id=draw(st.integers(1, 10**6)), date=draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
        supplier=text("supplier", True), description=text("description", False),
        account_code=text("account_code", True), account_name=text("account_name", False),
        bank_account=text("bank_account", False), tax_code=text("tax_code", False),
        net=net, tax=tax, total=net + tax, currency=currency, reference=text("reference", False),
        status=SimpleNamespace(value="Push complete"), status_detail="", updated_at=None,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(expense_rows(), min_size=1, max_size=8))
def test_export_then_import_gives_the_same_rows(tmp_path_factory, rows):
    from codatdesk.store.db import open_database

    folder = tmp_path_factory.mktemp("roundtrip")
    engine = open_database(f"sqlite:///{folder / 'db.sqlite3'}")
    try:
        path = folder / "export.csv"
        assert export_expenses(rows, path) == len(rows)
        report = import_file(engine, path, "c")
        assert report.ok, [str(e) for e in report.errors]
        want = [(r.date.isoformat(), r.supplier, r.description, r.account_code, r.account_name, r.bank_account,
                 r.tax_code, r.net, r.tax, r.total, r.currency, r.reference) for r in rows]
        got = stored(engine)
        assert got == want
    finally:
        engine.dispose()
