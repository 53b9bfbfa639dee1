"""Attach and detach receipts, and the read model the details pane shows."""

from __future__ import annotations

import os

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from codatdesk.core_api import ReceiptView
from codatdesk.events import ExpenseChanged
from codatdesk.receipts.files import ReceiptFiles, ReceiptRefused
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import read_session, register, session_scope
from codatdesk.store.models import Expense, Receipt


def view_of(receipt: Receipt, files: ReceiptFiles) -> ReceiptView:
    assert receipt.id is not None
    try:  # a colleague's receipt (team mode) is fetched once from the team's database, for its thumbnail
        path = files.local_copy(receipt.sha256)
    except OSError:  # gone: the view says the copy is missing; the upload says what to do
        path = files.path_of(receipt.sha256)
    return ReceiptView(id=receipt.id, expense_id=receipt.expense_id, file_name=receipt.file_name,
                       media_type=receipt.media_type, size=receipt.size, path=path,
                       upload_status=receipt.upload_status, upload_detail=receipt.upload_detail,
                       remote_id=receipt.remote_id, uploaded_at=receipt.uploaded_at)


def receipts_of(db: Engine, files: ReceiptFiles, expense_id: int) -> list[ReceiptView]:
    with read_session(db) as session:
        rows = session.exec(select(Receipt).where(Receipt.expense_id == expense_id).order_by(col(Receipt.id))).all()
        return [view_of(r, files) for r in rows]


def row_changed(session: Session, expense: Expense, cause: str) -> None:
    """The row's receipt badge changed: same status, so the table re-reads the row (ExpenseChanged old == new)."""
    assert expense.id is not None
    status = ExpenseStatus(expense.status)
    register(session, ExpenseChanged(expense.id, expense.company_id, status, status, cause))


def attach(db: Engine, files: ReceiptFiles, expense_id: int, source: str | os.PathLike[str]) -> ReceiptView:
    """Store the file and list it on the expense; the same file twice on one expense is listed once."""
    stored = files.store(source)  # file I/O before the write transaction
    with session_scope(db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            raise ReceiptRefused(f"Expense #{expense_id} no longer exists; the receipt was not attached.")
        existing = session.exec(select(Receipt).where(Receipt.expense_id == expense_id,
                                                      Receipt.sha256 == stored.sha256)).first()
        if existing is not None:
            return view_of(existing, files)
        receipt = Receipt(expense_id=expense_id, sha256=stored.sha256, file_name=stored.file_name[:255],
                          media_type=stored.media_type, size=stored.size)
        session.add(receipt)
        session.flush()
        row_changed(session, expense, f"receipt:{receipt.id}")
        return view_of(receipt, files)


def detach(db: Engine, files: ReceiptFiles, receipt_id: int) -> None:
    """Remove a receipt that is not in the ledger; its file goes when no other expense lists it."""
    with session_scope(db) as session:
        receipt = session.get(Receipt, receipt_id)
        if receipt is None:
            return
        if receipt.upload_status == "uploaded":
            # Codat cannot delete an attachment (codat-docs docs/expenses/sync-process/uploading-receipts.md,
            # "Update attachments"): the ledger keeps it, so the list keeps it too.
            raise ReceiptRefused(f"{receipt.file_name} is in the ledger already; codatdesk cannot remove it "
                                 "there. Delete it in the accounting software if it is wrong.")
        if receipt.upload_status == "uploading":
            raise ReceiptRefused(f"{receipt.file_name} is being uploaded; wait until it has finished or failed.")
        sha256 = receipt.sha256
        expense = session.get(Expense, receipt.expense_id)
        session.delete(receipt)
        session.flush()
        still_used = session.exec(select(func.count()).select_from(Receipt).where(Receipt.sha256 == sha256)).one()
        if expense is not None:
            row_changed(session, expense, f"receipt:{receipt_id}")
    if not still_used:
        files.remove(sha256)
