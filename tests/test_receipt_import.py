"""Receipts with an import: the ``receipt`` column (relative to the file) and ``--receipts FOLDER`` by reference."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.importer import import_file
from codatdesk.store.models import Expense, Receipt
from tests.receipt_samples import pdf_bytes, png_bytes, write

HEADER = "date,supplier,account_code,net,tax,total,currency,reference"


def receipts_by_reference(db) -> dict[str, list[str]]:
    with Session(db) as session:
        rows = session.exec(select(Expense.reference, Receipt.file_name).join(Receipt, Receipt.expense_id == Expense.id)
                            .order_by(Receipt.id)).all()
    found: dict[str, list[str]] = {}
    for reference, name in rows:
        found.setdefault(reference, []).append(name)
    return found


def test_the_receipt_column_attaches_files_relative_to_the_imported_file(db, tmp_path):
    (tmp_path / "scans").mkdir()
    write(tmp_path / "scans", "taxi.png", png_bytes())
    write(tmp_path, "hotel.pdf", pdf_bytes())
    sheet = tmp_path / "november.csv"
    sheet.write_text(f"{HEADER},receipt\n"
                     "2026-11-01,Taxi Co,429,10.00,2.00,12.00,GBP,R-1,scans/taxi.png\n"
                     "2026-11-02,Hotel,429,100.00,20.00,120.00,GBP,R-2,hotel.pdf\n"
                     "2026-11-03,Cafe,429,5.00,1.00,6.00,GBP,R-3,\n", encoding="utf-8")
    report = import_file(db, sheet, "c1")
    assert report.ok and report.added == 3 and report.receipts.attached == 2
    assert receipts_by_reference(db) == {"R-1": ["taxi.png"], "R-2": ["hotel.pdf"]}
    # Importing the same file again adds no expense and lists no receipt twice.
    again = import_file(db, sheet, "c1")
    assert again.added == 0 and again.already_present == 3
    assert receipts_by_reference(db) == {"R-1": ["taxi.png"], "R-2": ["hotel.pdf"]}


def test_a_missing_receipt_file_stops_the_import_and_names_the_path(db, tmp_path):
    sheet = tmp_path / "november.csv"
    sheet.write_text(f"{HEADER},receipt\n2026-11-01,Taxi Co,429,10.00,2.00,12.00,GBP,R-1,scans/gone.png\n",
                     encoding="utf-8")
    report = import_file(db, sheet, "c1")
    assert report.added == 0
    (error,) = report.errors
    assert error.line == 2 and error.column == "receipt"
    assert "receipt file 'scans/gone.png' not found" in error.reason and str(tmp_path / "scans" / "gone.png") in error.reason
    write(tmp_path, "notes.png", b"not an image")
    sheet.write_text(f"{HEADER},receipt\n2026-11-01,Taxi Co,429,10.00,2.00,12.00,GBP,R-1,notes.png\n", encoding="utf-8")
    assert "is not a PDF, PNG, JPEG or HEIC file" in import_file(db, sheet, "c1").errors[0].reason


def test_a_receipts_folder_is_matched_by_reference(db, tmp_path):
    folder = tmp_path / "receipts"
    folder.mkdir()
    write(folder, "R-1.png", png_bytes())
    write(folder, "r-2.PDF", pdf_bytes())  # names compare without case
    write(folder, "R-9.pdf", pdf_bytes())  # no such reference
    sheet = tmp_path / "november.csv"
    sheet.write_text(f"{HEADER}\n2026-11-01,Taxi Co,429,10.00,2.00,12.00,GBP,R-1\n"
                     "2026-11-02,Hotel,429,100.00,20.00,120.00,GBP,R-2\n"
                     "2026-11-03,Cafe,429,5.00,1.00,6.00,GBP,R-3\n", encoding="utf-8")
    report = import_file(db, sheet, "c1", receipts_folder=folder)
    assert report.ok and report.receipts.attached == 2 and report.receipts.unmatched == ["R-9.pdf"]
    assert receipts_by_reference(db) == {"R-1": ["R-1.png"], "R-2": ["r-2.PDF"]}


def test_the_cli_imports_with_a_receipts_folder(tmp_path, capsys):
    from codatdesk.cli import main

    folder = tmp_path / "receipts"
    folder.mkdir()
    write(folder, "R-1.png", png_bytes())
    sheet = tmp_path / "november.csv"
    sheet.write_text(f"{HEADER}\n2026-11-01,Taxi Co,429,10.00,2.00,12.00,GBP,R-1\n", encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "data"), "import", str(sheet), "--receipts", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "1 expense(s) added" in out and "1 receipt(s) attached" in out
    stored = [p for p in (tmp_path / "data" / "receipts").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [png_bytes()]
