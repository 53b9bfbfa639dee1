"""Import of split lines, tracking and employee claims (codatdesk/import_lines.py), and the export's round trip."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from codatdesk.export import export_expenses
from codatdesk.importer import import_file
from codatdesk.lines import Line
from codatdesk.store.expense_rows import fetch_company
from codatdesk.store.lines import export_details, lines_of
from codatdesk.store.models import Expense

DATA = Path(__file__).parent / "data" / "lines"
D = Decimal


def _expenses(db) -> list[tuple[Expense, list[Line]]]:
    with Session(db) as session:
        found = session.exec(select(Expense).order_by(Expense.id)).all()
        return [(e, lines_of(session, e)) for e in found]


def test_rows_numbered_under_one_reference_are_one_expense_with_its_lines(db):
    report = import_file(db, DATA / "split_lines.csv", "c")
    assert report.ok, [str(e) for e in report.errors]
    assert (report.rows, report.added) == (5, 3)
    (split, lines), (claim, _), (alone, _) = _expenses(db)
    assert (split.line_count, split.net, split.tax, split.total) == (3, D("50.00") + 30 + 20, D("14.00"), D("114.00"))
    assert lines == [Line("429", D("50.00"), D("10.00"), "INPUT2", "Team lunch", ("DEPARTMENT_2",)),
                     Line("493", D("30.00"), D("0.00"), "ZERORATEDINPUT", "Train", ("Sales", "Website relaunch")),
                     Line("461", D("20.00"), D("4.00"), "INPUT2", "Printing")]
    assert (claim.is_claim, claim.employee, claim.line_count) == (True, "Jo Bloggs", 0)
    # The same reference without a line number is an expense of its own (another supplier's invoice number).
    assert (alone.supplier_name, alone.reference, alone.line_count, alone.total) == (
        "Printworks Ltd", "SPLIT-1", 0, D("120.00"))
    assert import_file(db, DATA / "split_lines.csv", "c").added == 0  # importing again adds nothing


def test_lines_of_one_expense_that_disagree_are_refused_naming_both_lines(db):
    report = import_file(db, DATA / "lines_disagree.csv", "c")
    (error,) = report.errors
    assert (error.line, error.column) == (3, "date")
    assert "shares reference SPLIT-2 with line 2" in error.reason
    assert "its date is 2026-11-04 where line 2 has 2026-11-03" in error.reason
    assert _expenses(db) == []  # all or nothing


def test_a_bad_claim_or_a_claim_without_employee_is_refused(db, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("date,supplier,account_code,net,tax,total,currency,claim,employee\n"
                    "2026-11-04,Rail,493,1.00,0.00,1.00,GBP,maybe,\n"
                    "2026-11-04,Rail,493,1.00,0.00,1.00,GBP,yes,\n", encoding="utf-8")
    reasons = [(e.line, e.column, e.reason) for e in import_file(db, path, "c").errors]
    assert reasons == [(2, "claim", "bad claim 'maybe': write yes or no"),
                       (3, "employee", "an employee claim needs the employee (their supplier name in the ledger)")]


def test_an_export_writes_lines_back_as_numbered_rows_and_imports_the_same(db, tmp_path):
    from codatdesk.store.db import open_database

    assert import_file(db, DATA / "split_lines.csv", "c").ok
    rows = fetch_company(db, "c")
    with Session(db) as session:
        details = export_details(session, [r.id for r in rows])
    path = tmp_path / "export.csv"
    assert export_expenses(rows, path, details) == 5  # three lines, a claim, an expense of its own
    other = open_database(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        report = import_file(other, path, "c")
        assert report.ok, [str(e) for e in report.errors]

        def shape(engine):
            return sorted((e.expense_date, e.supplier_name, e.reference, e.net, e.tax, e.total, e.is_claim, e.employee,
                           tuple(lines)) for e, lines in _expenses(engine))

        assert shape(other) == shape(db)
    finally:
        other.dispose()
