"""Receipts on disk and in the store: content-addressed, private, sniffed; attach and detach; limits."""

from __future__ import annotations

import os
import stat

import pytest
from sqlmodel import Session, select

from codatdesk import integrations
from codatdesk.events import EventBus, ExpenseChanged
from codatdesk.receipts import attach, limits
from codatdesk.receipts.files import ReceiptFiles, ReceiptRefused, sniff_media_type
from codatdesk.store.db import bind_bus
from codatdesk.store.models import Receipt
from tests.receipt_samples import heic_bytes, pdf_bytes, png_bytes, write


@pytest.fixture
def expense_id(db):
    return add_expense(db, "R-1")


def add_expense(db, reference: str) -> int:
    import datetime as dt
    from decimal import Decimal

    from codatdesk.engine import edits
    from codatdesk.importer import ensure_company
    from codatdesk.store.db import session_scope

    with session_scope(db) as session:
        ensure_company(session, "c1", "Company c1")
    return edits.add_expense(db, EventBus(), "c1", {
        "expense_date": dt.date(2026, 11, 3), "supplier_name": "Cafe", "account_code": "429",
        "bank_account_code": "090", "net": Decimal("10.00"), "tax": Decimal("2.00"), "total": Decimal("12.00"),
        "currency": "GBP", "reference": reference})


@pytest.fixture
def files(tmp_path):
    return ReceiptFiles(tmp_path / "data" / "receipts")


def test_types_are_sniffed_from_the_bytes_not_the_name(tmp_path, files):
    assert sniff_media_type(pdf_bytes()) == "application/pdf"
    assert sniff_media_type(png_bytes()) == "image/png"
    assert sniff_media_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_media_type(heic_bytes()) == "image/heic"
    assert sniff_media_type(b"GIF89a....") is None
    # A text file named like a PDF is refused, and a PNG named .pdf is kept as the PNG it is.
    with pytest.raises(ReceiptRefused, match="not a PDF, PNG, JPEG or HEIC file"):
        files.store(write(tmp_path, "invoice.pdf", b"hello, not a pdf"))
    assert files.store(write(tmp_path, "photo.pdf", png_bytes())).media_type == "image/png"


def test_missing_and_empty_files_are_refused_with_the_reason(tmp_path, files):
    with pytest.raises(ReceiptRefused, match="no such file"):
        files.store(tmp_path / "gone.png")
    with pytest.raises(ReceiptRefused, match="is empty"):
        files.store(write(tmp_path, "empty.png", b""))


def test_one_content_is_stored_once_and_privately(tmp_path, files):
    first = files.store(write(tmp_path, "a.png", png_bytes()))
    second = files.store(write(tmp_path, "copy of a.png", png_bytes()))
    assert first.sha256 == second.sha256 and second.file_name == "copy of a.png"
    stored = [p for p in files.folder.rglob("*") if p.is_file()]
    assert stored == [files.path_of(first.sha256)]
    assert stored[0].read_bytes() == png_bytes()
    if os.name == "posix":
        assert stat.S_IMODE(stored[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(stored[0].parent.stat().st_mode) == 0o700


def test_attach_lists_the_file_once_per_expense_and_tells_the_row(db, tmp_path, files, expense_id):
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    bind_bus(db, bus)
    view = attach.attach(db, files, expense_id, write(tmp_path, "taxi.png", png_bytes()))
    again = attach.attach(db, files, expense_id, write(tmp_path, "taxi again.png", png_bytes()))
    assert again.id == view.id
    assert [(r.file_name, r.media_type, r.upload_status) for r in attach.receipts_of(db, files, expense_id)] == [
        ("taxi.png", "image/png", "pending")]
    assert view.path.read_bytes() == png_bytes()
    assert view.state_text == "waits for the push to complete"
    assert [e for e in seen if isinstance(e, ExpenseChanged)] == [
        ExpenseChanged(expense_id, "c1", view_status := seen[0].old, view_status, f"receipt:{view.id}")]


def test_detach_removes_the_file_only_when_no_expense_lists_it(db, tmp_path, files, expense_id):
    other = add_expense(db, "R-2")
    source = write(tmp_path, "shared.pdf", pdf_bytes())
    one = attach.attach(db, files, expense_id, source)
    two = attach.attach(db, files, other, source)
    attach.detach(db, files, one.id)
    assert one.path.exists()  # still listed on the other expense
    attach.detach(db, files, two.id)
    assert not one.path.exists()


def test_an_uploaded_receipt_cannot_be_detached(db, tmp_path, files, expense_id):
    view = attach.attach(db, files, expense_id, write(tmp_path, "r.pdf", pdf_bytes()))
    with Session(db) as session:
        receipt = session.get(Receipt, view.id)
        receipt.upload_status = "uploaded"
        session.add(receipt)
        session.commit()
    with pytest.raises(ReceiptRefused, match="in the ledger already"):
        attach.detach(db, files, view.id)


def test_deleting_an_expense_deletes_its_receipt_rows(db, tmp_path, files, expense_id):
    from codatdesk.store.models import Expense

    attach.attach(db, files, expense_id, write(tmp_path, "r.pdf", pdf_bytes()))
    with Session(db) as session:
        session.delete(session.get(Expense, expense_id))
        session.commit()
        assert session.exec(select(Receipt)).all() == []


@pytest.mark.parametrize(("key", "media_type", "size", "words"), [
    (integrations.XERO, "image/png", 4 * 1024 * 1024, "Xero accepts attachments up to 3 MB"),
    (integrations.XERO, "image/heic", 1000, "Xero does not accept HEIC attachments"),
    (integrations.QUICKBOOKS_ONLINE, "image/heic", 1000, "QuickBooks Online does not accept HEIC"),
    (integrations.QUICKBOOKS_DESKTOP, "application/pdf", 1000, "QuickBooks Desktop does not accept attachments"),
    (integrations.SAGE_50_UK, "application/pdf", 11 * 1024 * 1024, "sandbox choice"),
])
def test_ledger_limits_are_named_in_the_refusal(key, media_type, size, words):
    assert words in limits.refusal(key, media_type, size)


def test_files_within_the_limits_pass():
    assert limits.refusal(integrations.XERO, "application/pdf", 3 * 1024 * 1024) is None
    assert limits.refusal(integrations.QUICKBOOKS_ONLINE, "image/jpeg", 50 * 1024 * 1024) is None
