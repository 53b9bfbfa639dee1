from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from codatdesk.importer import LOCAL_COMPANY_ID, import_file, looks_like_formula
from codatdesk.paths import resource
from codatdesk.store.models import Expense

HEADER = "date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,currency,reference\n"
GOOD = "2026-11-02,Rail,Train,493,Travel,090,INPUT2,45.00,9.00,54.00,GBP,R1\n"


def write(tmp_path: Path, text: str, name: str = "x.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(db) -> int:
    with Session(db) as session:
        return len(session.exec(select(Expense)).all())


def test_sample_file_imports_and_reimport_adds_nothing(db):
    report = import_file(db, resource("sample-expenses.csv"), LOCAL_COMPANY_ID)
    assert report.ok and report.added == 12
    again = import_file(db, resource("sample-expenses.csv"), LOCAL_COMPANY_ID)
    assert again.ok and again.added == 0 and again.already_present == 12
    assert count(db) == 12


def test_amounts_are_decimal_and_exact(db, tmp_path):
    import_file(db, write(tmp_path, HEADER + "2026-11-02,Rail,Train,493,Travel,090,,0.10,0.20,0.30,GBP,R1\n"), "c")
    with Session(db) as session:
        expense = session.exec(select(Expense)).one()
    assert (expense.net, expense.tax, expense.total) == (Decimal("0.10"), Decimal("0.20"), Decimal("0.30"))


def test_identical_lines_in_one_file_are_two_expenses_but_reimport_still_adds_none(db, tmp_path):
    path = write(tmp_path, HEADER + GOOD + GOOD)
    assert import_file(db, path, "c").added == 2
    assert import_file(db, path, "c").added == 0


@pytest.mark.parametrize("line,reason", [
    ("2026-13-40,Rail,Train,493,Travel,090,,45.00,9.00,54.00,GBP,R1", "bad date"),
    ("02/11/2026,Rail,Train,493,Travel,090,,45.00,9.00,54.00,GBP,R1", "bad date"),
    ("2026-11-02,Rail,Train,493,Travel,090,,forty,9.00,54.00,GBP,R1", "bad amount"),
    ("2026-11-02,Rail,Train,493,Travel,090,,45.001,9.00,54.001,GBP,R1", "has 3 decimals; GBP has 2"),
    ("2026-11-02,Rail,Train,493,Travel,090,,NaN,9.00,54.00,GBP,R1", "bad amount"),
    ("2026-11-02,Rail,Train,493,Travel,090,,45.00,9.00,54.00,XYZ,R1", "unknown currency"),
    ("2026-11-02,Rail,Train,493,Travel,090,,45.00,9.00,55.00,GBP,R1", "do not add up"),
    ("2026-11-02,,Train,493,Travel,090,,45.00,9.00,54.00,GBP,R1", "is empty"),
    ("2026-11-02,=HYPERLINK(\"http://x\"),Train,493,Travel,090,,45.00,9.00,54.00,GBP,R1", "formula"),
    ("2026-11-02,Rail", "field"),
])
def test_every_bad_line_is_reported_with_its_number_and_nothing_is_imported(db, tmp_path, line, reason):
    path = write(tmp_path, HEADER + GOOD + line + "\n" + GOOD.replace("R1", "R3"))
    report = import_file(db, path, "c")
    assert not report.ok
    assert {e.line for e in report.errors} == {3}
    assert reason in str(report.errors[0])
    assert count(db) == 0


def test_all_bad_lines_are_listed_not_just_the_first(db, tmp_path):
    bad = GOOD.replace("45.00", "x")
    report = import_file(db, write(tmp_path, HEADER + bad + GOOD + bad + bad), "c")
    assert [e.line for e in report.errors] == [2, 4, 5]


def test_missing_columns_are_named(db, tmp_path):
    report = import_file(db, write(tmp_path, "date,supplier,net\n2026-11-02,Rail,1\n"), "c")
    assert report.errors[0].line == 1
    assert "account_code" in report.errors[0].reason and "currency" in report.errors[0].reason


def test_bom_and_column_order_and_case_are_accepted(db, tmp_path):
    text = "\ufeffCurrency,Total,Tax,Net,Account_Code,Supplier,Date,Bank_Account\nGBP,12.00,2.00,10.00,429,Cafe,2026-11-03,090\n"
    report = import_file(db, write(tmp_path, text), "c")
    assert report.ok and report.added == 1


@pytest.mark.parametrize("encoding,name", [
    ("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("utf-16", "UTF-16"), ("utf-32", "UTF-32"),
    ("cp1252", "Windows-1252"),
])
def test_encodings_accountants_have_are_detected_and_named(db, tmp_path, encoding, name):
    text = HEADER + GOOD.replace("Rail", "Café Müller œuvre").replace("Train", "Zug €")
    report = import_file(db, write(tmp_path, text, encoding=encoding), "c")
    assert report.ok, report.errors
    assert report.encoding == name and name in report.summary()
    with Session(db) as session:
        expense = session.exec(select(Expense)).one()
    assert (expense.supplier_name, expense.description) == ("Café Müller œuvre", "Zug €")


def test_an_undecodable_byte_is_reported_on_its_own_line(db, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"2026-11-02,R\xff\xfe\x00\x81,T,1,,,,1,0,1,GBP,\n")
    report = import_file(db, path, "c")
    assert not report.ok and report.errors[0].line == 3, report.errors


def test_a_missing_file_says_so_without_a_line_number(db, tmp_path):
    report = import_file(db, tmp_path / "nope.csv", "c")
    assert str(report.errors[0]) == f"there is no file {str(tmp_path / 'nope.csv')!r}"
    assert report.errors[0].line is None


def test_empty_file_and_header_only(db, tmp_path):
    assert "empty" in str(import_file(db, write(tmp_path, ""), "c").errors[0])
    assert "no expenses" in str(import_file(db, write(tmp_path, HEADER), "c").errors[0])


def test_negative_amounts_are_not_mistaken_for_formulas():
    assert not looks_like_formula("-12.50")
    assert looks_like_formula("-cmd|' /C calc'!A0")
    assert looks_like_formula("@SUM(A1)")
    assert not looks_like_formula("- taxi")


# ------------------------------------------------------------------ the file's number format

KWD_HEADER = "date,supplier,account_code,net,tax,total,currency"


def errors_of(report) -> dict:
    return {(e.line, e.column): e.reason for e in report.errors}


def test_a_users_file_whose_amounts_all_read_two_ways_is_still_refused_with_both_readings(db, tmp_path):
    """Only 1.000 and 2.000 of KWD: English 1.000 or German 1000. Nothing in the file decides: never guessed."""
    path = write(tmp_path, KWD_HEADER + "\n2026-01-02,Souk,429,1.000,1.000,2.000,KWD\n")
    said = errors_of(import_file(db, path, "c"))
    assert said.keys() == {(2, "net"), (2, "tax"), (2, "total")}, said
    assert "reads two ways: 1.000" in said[(2, "net")] and "or 1000 " in said[(2, "net")]
    assert "2.000" in said[(2, "total")] and "2000" in said[(2, "total")]
    assert count(db) == 0


@pytest.mark.parametrize("named,second_row,first_net", [
    ("plain", "-0.500,0.000,-0.500", Decimal("1.000")),  # codatdesk's export
    ("de_DE", "\"-0,500\",\"0,000\",\"-0,500\"", Decimal(1000)),  # German: 1.000 is a thousand
])
def test_a_number_format_column_says_how_the_file_reads(db, tmp_path, named, second_row, first_net):
    path = write(tmp_path, KWD_HEADER + ",number_format\n"
                 f"2026-01-02,Souk,429,1.000,1.000,2.000,KWD,{named}\n"
                 f"2026-01-03,Souk,429,{second_row},KWD,{named}\n")
    report = import_file(db, path, "c")
    assert report.ok, [str(e) for e in report.errors]
    assert "named in the file" in report.summary()
    with Session(db) as session:
        first, second = session.exec(select(Expense).order_by(Expense.id)).all()
    assert (first.net, first.tax, first.total) == (first_net, first_net, 2 * first_net)
    assert second.total == Decimal("-0.5")


def test_amounts_not_written_in_the_named_format_are_refused_not_reinterpreted(db, tmp_path):
    path = write(tmp_path, KWD_HEADER + ",Number format\n"
                 "2026-01-02,Souk,429,\"1,000.000\",0.000,\"1,000.000\",KWD,plain\n")
    said = errors_of(import_file(db, path, "c"))
    assert said.keys() == {(2, "net"), (2, "total")}, said
    assert "does not fit the number format 1234567.89" in said[(2, "net")]


def test_a_row_naming_no_other_or_an_unknown_format_is_refused(db, tmp_path):
    path = write(tmp_path, KWD_HEADER + ",number_format\n"
                 "2026-01-02,A,429,1.000,0.000,1.000,KWD,plain\n"
                 "2026-01-03,B,429,1.000,0.000,1.000,KWD,\n"
                 "2026-01-04,C,429,1.000,0.000,1.000,KWD,de_DE\n"
                 "2026-01-05,D,429,1.000,0.000,1.000,KWD,klingon\n"
                 "2026-01-06,E,429,1.000,0.000,1.000,KWD,C\n")  # C is plain by another name
    said = errors_of(import_file(db, path, "c"))
    assert said.keys() == {(3, "number_format"), (4, "number_format"), (5, "number_format")}, said
    assert "is empty" in said[(3, "number_format")]
    assert "says de_DE, but the rows above say plain" in said[(4, "number_format")]
    assert "unknown number format 'klingon'" in said[(5, "number_format")]
    assert count(db) == 0


def test_a_chosen_format_that_contradicts_the_files_column_is_refused(db, tmp_path):
    from codatdesk.amounts import number_format

    path = write(tmp_path, KWD_HEADER + ",number_format\n2026-01-02,Souk,429,1.000,1.000,2.000,KWD,plain\n")
    report = import_file(db, path, "c", number_format=number_format("de_DE"))
    said = errors_of(report)
    assert said.keys() == {(1, "number_format")}, said
    assert "names 1234567.89 (C), but the import was told 1.234.567,89 (de_DE)" in said[(1, "number_format")]
    assert import_file(db, path, "c", number_format=number_format("plain")).ok  # the same format: fine
