"""Receipt uploads: the one writer of a receipt's upload state, and the worker that sends them.

A receipt is uploaded after its record exists: on the direct-cost route once the expense's push
completed with the direct cost's id (``POST .../push/directCosts/{directCostId}/attachment``, Accounting
spec ``upload-direct-cost-attachment``); on the Expenses route the route's engine calls
``upload_to_sync_transaction`` once the transaction is Completed (codat-docs
``docs/expenses/sync-process/uploading-receipts.md``). Each upload is its own tracked step: the expense
stays Push complete whatever happens to its receipts, and a failed upload is retried alone.

Crash safety: a receipt is marked ``uploading`` with its ``Idempotency-Key`` before the POST leaves;
one left so by a dead process is sent again under the same key while Codat keeps the first answer
(90 minutes, ``docs/using-the-api/write-data/idempotency.md``; 80 with a margin, as for pushes), so the
ledger never gets it twice; older, under a new key.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codatdesk.codat import CodatClient, CodatError
from codatdesk.codat.client import new_idempotency_key
from codatdesk.engine.results import created_record_id
from codatdesk.events import ExpenseChanged
from codatdesk.machines import Machine
from codatdesk.receipts import limits
from codatdesk.receipts.attach import row_changed
from codatdesk.receipts.files import ReceiptFiles
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import read_session, session_scope
from codatdesk.store.models import Company, Connection, Expense, ExpenseSyncItem, PushOperation, Receipt, utcnow

log = logging.getLogger(__name__)
SAME_KEY_WINDOW = dt.timedelta(minutes=80)


class UploadStatus(StrEnum):
    PENDING = "pending"  # waits for the record in the ledger (the expense's push)
    UPLOADING = "uploading"  # claimed, its key stored, the POST on its way (or left by a crash)
    UPLOADED = "uploaded"
    FAILED = "failed"  # Codat refused it or could not be reached: the user may retry
    REFUSED = "refused"  # the ledger would not take it (type, size, no attachments): checked before sending


U = UploadStatus
UPLOAD = Machine("receipt upload", UploadStatus, {
    U.PENDING: frozenset({U.UPLOADING, U.REFUSED}),
    U.UPLOADING: frozenset({U.UPLOADING, U.UPLOADED, U.FAILED}),
    U.UPLOADED: frozenset(),
    U.FAILED: frozenset({U.PENDING}),
    U.REFUSED: frozenset({U.PENDING}),
})
UNFINISHED = (U.PENDING, U.UPLOADING)


def set_upload_status(session: Session, receipt: Receipt, new: UploadStatus, detail: str = "") -> None:
    """The only writer of ``Receipt.upload_status``: refuses a move the table lacks, and tells the row."""
    UPLOAD.check(receipt.upload_status, new)
    receipt.upload_status = new
    receipt.upload_detail = detail
    if new is U.UPLOADED:
        receipt.uploaded_at = utcnow()
    session.add(receipt)
    expense = session.get(Expense, receipt.expense_id)
    if expense is not None:
        row_changed(session, expense, f"receipt:{receipt.id}")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


class ReceiptUploader:
    def __init__(self, db: Engine, files: ReceiptFiles, client: Callable[[], CodatClient],
                 pool: Callable[[str], Executor]) -> None:
        self.db = db
        self.files = files
        self.client = client
        self.pool = pool
        self._in_flight: set[int] = set()  # receipt ids a thread of this process is sending
        self._lock = threading.Lock()
        self._completed: dict[str, set[int]] = {}  # per company: expenses completed since its last look
        # False on a team desktop: it holds no Codat key; the server uploads (it hears of each receipt
        # through the change feed, as a change of the row's receipts).
        self.uploads_here = True

    # -- triggers -----------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Bus subscriber: an expense that just became Push complete has its receipts uploaded, and so has a
        complete one whose receipts a team desktop changed (attached or retried there: the desktop holds no key;
        here, the attach and the retry ask for the upload themselves).

        Most have none: the completions that arrive together are looked up in one query (in the company's
        pool), not one each, which at a webhook storm's rate cost the server three database reads a row."""
        if isinstance(event, ExpenseChanged) and event.new is ExpenseStatus.COMPLETE \
                and (event.old is not ExpenseStatus.COMPLETE
                     or (event.from_feed and event.cause.startswith("receipt:"))):
            with self._lock:
                waiting = self._completed.setdefault(event.company_id, set())
                first = not waiting
                waiting.add(event.expense_id)
            if first:
                try:
                    self.pool(event.company_id).submit(self._look_at_completed, event.company_id)
                except RuntimeError:  # closing: the sweep at the next start sends them
                    pass

    def _look_at_completed(self, company_id: str) -> None:
        with self._lock:
            expense_ids = self._completed.pop(company_id, set())
        try:
            with read_session(self.db) as session:
                with_receipts = session.exec(select(Receipt.expense_id).where(
                    col(Receipt.expense_id).in_(expense_ids), col(Receipt.upload_status).in_(UNFINISHED)
                ).distinct()).all()
        except Exception:  # a worker's failure must not vanish in a Future nobody reads; the sweep retries
            log.exception("looking for receipts of %d completed expense(s) failed", len(expense_ids))
            return
        for expense_id in sorted(with_receipts):
            self._upload_logged(expense_id)

    def upload_soon(self, company_id: str, expense_id: int) -> Future[None] | None:
        """Queue the upload in the company's pool (it counts toward Codat's limits like every request)."""
        if not self.uploads_here:
            return None
        try:
            return self.pool(company_id).submit(self._upload_logged, expense_id)
        except RuntimeError:  # closing: the sweep at the next start sends it
            return None

    def sweep(self) -> int:
        """Upload what a crash or a lost trigger left: unfinished receipts of completed expenses (at start and
        every reconciliation); waits for them. Returns how many expenses it sent receipts for."""
        with read_session(self.db) as session:
            found = session.exec(select(Expense.id, Expense.company_id).join(Receipt, col(Receipt.expense_id) == col(Expense.id))
                                 .where(Expense.status == ExpenseStatus.COMPLETE,
                                        col(Receipt.upload_status).in_(UNFINISHED)).distinct()).all()
        futures = [f for expense_id, company_id in found
                   if expense_id is not None and (f := self.upload_soon(company_id, expense_id))]
        for future in futures:
            future.result()
        return len(found)

    def retry(self, receipt_id: int) -> None:
        """A failed or refused receipt goes back to pending; uploaded now if its expense is in the ledger."""
        with session_scope(self.db) as session:
            receipt = session.get(Receipt, receipt_id)
            if receipt is None or receipt.upload_status not in (U.FAILED, U.REFUSED):
                return
            set_upload_status(session, receipt, U.PENDING)
            expense = session.get(Expense, receipt.expense_id)
            complete = expense is not None and ExpenseStatus(expense.status) is ExpenseStatus.COMPLETE
            company_id = expense.company_id if expense is not None else ""
        if complete:
            self.upload_soon(company_id, receipt.expense_id)

    # -- the direct-cost route ------------------------------------------------------------
    def _upload_logged(self, expense_id: int) -> None:
        try:
            self.upload_expense(expense_id)
        except Exception:  # a worker's failure must not vanish in a Future nobody reads
            log.exception("uploading the receipts of expense %s failed", expense_id)

    def upload_expense(self, expense_id: int) -> None:
        """Send the expense's unfinished receipts to its direct cost (run in the company's pool)."""
        with read_session(self.db) as session:
            expense = session.get(Expense, expense_id)
            if expense is None or ExpenseStatus(expense.status) is not ExpenseStatus.COMPLETE:
                return
            op = session.get(PushOperation, expense.push_operation_key) if expense.push_operation_key else None
            receipt_ids = self._unfinished(session, expense_id)
            if not receipt_ids:
                return
            if op is None:  # the Expenses route: the transaction Codat completed holds the receipts
                sync_target = self._completed_transaction(session, expense)
                if sync_target is not None:
                    self.upload_to_sync_transaction(expense_id, *sync_target)
                return
            connection = session.get(Connection, op.connection_id)
            integration_key = connection.integration_key if connection else None
            company_id, connection_id, record_id = op.company_id, op.connection_id, op.record_id
        if not record_id:
            record_id = self._record_id_from_codat(company_id, op.key)
        if not record_id:
            self._note_pending(receipt_ids, "Codat has not said which record the push created yet; "
                                            "the upload follows at the next reconciliation.")
            return

        def send(receipt: Receipt, data: bytes, key: str) -> Any:
            return self.client().upload_direct_cost_attachment(company_id, connection_id, record_id,
                                                               receipt.file_name, receipt.media_type, data,
                                                               idempotency_key=key)

        for receipt_id in receipt_ids:
            self._upload_one(receipt_id, integration_key, send)

    def _record_id_from_codat(self, company_id: str, key: str) -> str | None:
        try:
            answer = self.client().get_push_operation(company_id, key)
        except CodatError as exc:
            log.warning("reading push operation %s for its record id failed: %s", key, exc)
            return None
        record_id = created_record_id(answer.get("changes"), answer.get("dataType"))
        if record_id:
            with session_scope(self.db) as session:
                op = session.get(PushOperation, key)
                if op is not None and not op.record_id:
                    op.record_id = record_id
                    session.add(op)
        return record_id

    @staticmethod
    def _completed_transaction(session: Session, expense: Expense) -> tuple[str, str, str, str | None] | None:
        """(company, syncId, transaction id, integration key) of the expense's Completed expense transaction."""
        item = session.exec(select(ExpenseSyncItem).where(ExpenseSyncItem.expense_id == expense.id,
                                                          ExpenseSyncItem.status == "Completed")
                            .order_by(col(ExpenseSyncItem.id).desc())).first()
        if item is None:
            return None
        company = session.get(Company, expense.company_id)
        connection = session.get(Connection, company.connection_id) if company and company.connection_id else None
        return item.company_id, item.sync_id, item.transaction_id, connection.integration_key if connection else None

    @staticmethod
    def _unfinished(session: Session, expense_id: int) -> list[int]:
        query = select(Receipt.id).where(Receipt.expense_id == expense_id,
                                         col(Receipt.upload_status).in_(UNFINISHED)).order_by(col(Receipt.id))
        return [receipt_id for receipt_id in session.exec(query).all() if receipt_id is not None]

    def _note_pending(self, receipt_ids: list[int], detail: str) -> None:
        with session_scope(self.db) as session:
            for receipt in session.exec(select(Receipt).where(col(Receipt.id).in_(receipt_ids))).all():
                if receipt.upload_status == U.PENDING and receipt.upload_detail != detail:
                    receipt.upload_detail = detail  # same state, a better word for it
                    session.add(receipt)

    # -- the Expenses route (hook) -----------------------------------------------------------
    def upload_to_sync_transaction(self, expense_id: int, company_id: str, sync_id: str, transaction_id: str,
                                   integration_key: str | None = None) -> None:
        """For the Expenses route's engine: once the sync transaction ``transaction_id`` is Completed, send the
        expense's unfinished receipts to ``.../syncs/{syncId}/transactions/{transactionId}/attachments``
        (codat-docs docs/expenses/sync-process/uploading-receipts.md). Run it in the company's pool."""
        path = (f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions/{transaction_id}/attachments")

        def send(receipt: Receipt, data: bytes, key: str) -> Any:
            return self.client().upload_attachment(path, receipt.file_name, receipt.media_type, data,
                                                   idempotency_key=key)

        with read_session(self.db) as session:
            receipt_ids = self._unfinished(session, expense_id)
        for receipt_id in receipt_ids:
            self._upload_one(receipt_id, integration_key, send)

    # -- one receipt ----------------------------------------------------------------------
    def _upload_one(self, receipt_id: int, integration_key: str | None,
                    send: Callable[[Receipt, bytes, str], Any]) -> None:
        with self._lock:
            if receipt_id in self._in_flight:
                return
            self._in_flight.add(receipt_id)
        try:
            claimed = self._claim(receipt_id, integration_key)
            if claimed is None:
                return
            receipt, key = claimed
            try:
                data = self.files.read(receipt.sha256)
            except OSError as exc:
                self._finish(receipt_id, U.FAILED, f"The stored copy cannot be read ({exc.strerror}). "
                                                   "Detach the receipt and attach the file again.")
                return
            try:
                answer = send(receipt, data, key)
            except CodatError as exc:
                self._finish(receipt_id, U.FAILED, _plain_failure(exc))
                return
            status, detail, remote_id = _read_answer(answer)
            self._finish(receipt_id, status, detail, remote_id)
        finally:
            with self._lock:
                self._in_flight.discard(receipt_id)

    def _claim(self, receipt_id: int, integration_key: str | None) -> tuple[Receipt, str] | None:
        """Mark it uploading with the key it goes out under (the same key again for one a crash left)."""
        with session_scope(self.db) as session:
            receipt = session.get(Receipt, receipt_id)
            if receipt is None or receipt.upload_status not in UNFINISHED:
                return None
            refusal = limits.refusal(integration_key, receipt.media_type, receipt.size)
            if refusal is not None:
                if receipt.upload_status == U.PENDING:
                    set_upload_status(session, receipt, U.REFUSED, refusal)
                else:
                    set_upload_status(session, receipt, U.FAILED, refusal)
                return None
            started = _aware(receipt.upload_started_at)
            resend = (receipt.upload_status == U.UPLOADING and receipt.upload_key is not None
                      and started is not None and utcnow() - started < SAME_KEY_WINDOW)
            if not resend:
                receipt.upload_key = new_idempotency_key()
                receipt.upload_started_at = utcnow()
            set_upload_status(session, receipt, U.UPLOADING)
            assert receipt.upload_key is not None
            return receipt, receipt.upload_key

    def _finish(self, receipt_id: int, status: UploadStatus, detail: str = "", remote_id: str | None = None) -> None:
        with session_scope(self.db) as session:
            receipt = session.get(Receipt, receipt_id)
            if receipt is None:
                return
            if remote_id:
                receipt.remote_id = remote_id
            set_upload_status(session, receipt, status, detail)


def _read_answer(answer: Any) -> tuple[UploadStatus, str, str | None]:
    """Codat's answer to an upload: the 2023 Accounting spec documents a bare 200; a write answer
    (``pushOperationKey``, status, ``changes[].attachmentId``) or the Expenses route's
    ``{companyId, id, transactionId}`` carry the attachment's id."""
    if not isinstance(answer, dict):
        return U.UPLOADED, "", None
    if "pushOperationKey" in answer:
        attachment_id = next((str(c["attachmentId"]) for c in answer.get("changes") or []
                              if isinstance(c, dict) and c.get("attachmentId")), None)
        status = answer.get("status")
        if status == "Success":
            return U.UPLOADED, "", attachment_id
        if status in ("Failed", "TimedOut"):
            reason = answer.get("errorMessage") or f"Codat reported the upload {status}"
            return U.FAILED, f"{reason}. Check the file, then retry the upload.", None
        # Codat is still writing it: codatdesk does not follow the write yet, so it says so (sandbox choice).
        return U.UPLOADED, f"Codat accepted it for writing (operation {answer['pushOperationKey']}).", attachment_id
    return U.UPLOADED, "", str(answer["id"]) if answer.get("id") else None


def _plain_failure(exc: CodatError) -> str:
    if exc.status is None or exc.status >= 500 or exc.status == 429:
        return f"Codat could not take it now ({exc.message}). Retry the upload later."
    if exc.status == 404:
        return "Codat no longer finds the record in the ledger. Check the expense in the ledger, then retry."
    return f"Codat refused the upload: {exc.message}. Check the file, then retry the upload."
