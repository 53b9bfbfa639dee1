"""The README's import examples, Excel import, and export -> import giving the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import string
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from codatdesk.export import export_expenses
from codatdesk.importer import MAX_TEXT, import_file, looks_like_formula
from codatdesk.money import currency_exponent
from codatdesk.store.models import Expense
from codatdesk.store.types import Money

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
FIELDS = ("date", "supplier", "description", "account_code", "account_name", "bank_account", "tax_code",
          "net", "tax", "total", "currency", "reference")


def examples_script():
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
# 3-decimal currencies write 1.000, which is also German for 1000; 0-decimal ones 1000 (1,000 / 1.000 grouped).
ROUNDTRIP_CURRENCIES = ["GBP", "EUR", "CHF", "JPY", "ISK", "KWD", "BHD", "OMR"]


def _clean(text: str) -> str:
    return text.strip()


def as_the_database_returns(value: Decimal) -> Decimal:
    """What an export of stored rows sees: JPY 1000 comes back as 1000.00, KWD 1.230 as 1.23."""
    money = Money()
    return money.process_result_value(money.process_bind_param(value, None), None)


def _minor_units(draw: st.DrawFn, places: int, biggest: int) -> Decimal:
    """Any amount, or whole units below 1000 (KWD 1.000 reads two ways), or big whole units (grouping)."""
    units = draw(st.one_of(
        st.integers(-biggest, biggest),
        st.integers(-999, 999).map(lambda whole: whole * 10**places),
        st.integers(-(10**12), 10**12).map(lambda whole: whole * 10**places),
    ))
    return Decimal(units).scaleb(-places)


@st.composite
def expense_rows(draw: st.DrawFn) -> SimpleNamespace:
    currency = draw(st.sampled_from(ROUNDTRIP_CURRENCIES))
    places = currency_exponent(currency)
    net = _minor_units(draw, places, 10**9)
    tax = _minor_units(draw, places, 10**7)
    total = net + tax
    if draw(st.booleans()):
        net, tax, total = (as_the_database_returns(v) for v in (net, tax, total))

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
        net=net, tax=tax, total=total, currency=currency, reference=text("reference", False),
        status=SimpleNamespace(value="Push complete"), status_detail="", updated_at=None,
    )


def expense(net: str, tax: str, currency: str, supplier: str = "0") -> SimpleNamespace:
    """One exported row, as the examples below need it."""
    return SimpleNamespace(
        id=1, date=dt.date(2000, 1, 1), supplier=supplier, description="", account_code="0", account_name="",
        bank_account="", tax_code="", net=Decimal(net), tax=Decimal(tax), total=Decimal(net) + Decimal(tax),
        currency=currency, reference="", status=SimpleNamespace(value="Push complete"), status_detail="",
        updated_at=None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(expense_rows(), min_size=1, max_size=8))
@example(rows=[expense("1.000", "1.000", "KWD")])  # found by Hypothesis: read 1.000 or 1000, refused
@example(rows=[expense("-1.000", "-0.500", "BHD"), expense("999.999", "0.001", "OMR")])
@example(rows=[expense("1000", "0", "JPY"), expense("1.000", "2.000", "KWD")])  # nothing but 1000 and X.000
@example(rows=[expense("1000.00", "0.00", "JPY")])  # JPY 1000 as the database returns it
@example(rows=[expense("1.23", "1.00", "KWD")])  # KWD 1.230 and 1.000 as the database returns them
@example(rows=[expense("1234567.890", "-1000000.000", "KWD"), expense("-1000000", "1000", "ISK")])
def test_export_then_import_gives_the_same_rows(tmp_path_factory, rows):
    from codatdesk.store.db import open_database

    folder = tmp_path_factory.mktemp("roundtrip")
    engine = open_database(f"sqlite:///{folder / 'db.sqlite3'}")
    try:
        path = folder / "export.csv"
        assert export_expenses(rows, path) == len(rows)
        report = import_file(engine, path, "c")
        assert report.ok, [str(e) for e in report.errors]
        assert "named in the file" in report.summary()
        want = [(r.date.isoformat(), r.supplier, r.description, r.account_code, r.account_name, r.bank_account,
                 r.tax_code, r.net, r.tax, r.total, r.currency, r.reference) for r in rows]
        got = stored(engine)
        assert got == want
    finally:
        engine.dispose()


def test_an_export_writes_each_amount_in_its_currencys_decimals_and_names_the_format(tmp_path):
    path = tmp_path / "export.csv"
    export_expenses([expense("1000.00", "0.00", "JPY"), expense("1.23", "1.00", "KWD"),
                     expense("-1234567.5", "0", "GBP")], path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header, *lines = list(csv.reader(fh))
    cells = [dict(zip(header, line)) for line in lines]
    assert [(c["Net"], c["Tax"], c["Total"]) for c in cells] == [
        ("1000", "0", "1000"), ("1.230", "1.000", "2.230"), ("-1234567.50", "0.00", "-1234567.50")]
    assert {c["Number format"] for c in cells} == {"plain"}


def test_stored_expenses_export_and_import_back_into_another_database(db, tmp_path):
    """The export the window makes reads amounts back from the database (JPY 1000 is 1000.00 there)."""
    from codatdesk.store.db import open_database

    source = tmp_path / "in.csv"
    source.write_text(
        "date,supplier,account_code,net,tax,total,currency,number_format\n"
        "2026-01-02,Souk,429,1.000,1.000,2.000,KWD,plain\n2026-01-02,Ryokan,429,1000,0,1000,JPY,plain\n"
        "2026-01-03,Gulf Air,429,-12.340,0.000,-12.340,BHD,plain\n", encoding="utf-8")
    assert import_file(db, source, "c").ok
    with Session(db) as session:
        rows = [SimpleNamespace(id=e.id, date=e.expense_date, supplier=e.supplier_name, description=e.description,
                                account_code=e.account_code, account_name=e.account_name,
                                bank_account=e.bank_account_code, tax_code=e.tax_code, net=e.net, tax=e.tax,
                                total=e.total, currency=e.currency, reference=e.reference, status=e.status,
                                status_detail=e.status_detail, updated_at=None)
                for e in session.exec(select(Expense).order_by(Expense.id)).all()]
    export_expenses(rows, tmp_path / "export.csv")
    other = open_database(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        report = import_file(other, tmp_path / "export.csv", "c")
        assert report.ok, [str(e) for e in report.errors]
        assert stored(other) == stored(db)
    finally:
        other.dispose()
