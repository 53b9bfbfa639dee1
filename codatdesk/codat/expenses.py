"""Codat's Sync for Expenses API (current version) on top of a ``CodatClient``.

``ExpensesApi(client)`` has one typed call per endpoint the Expenses route uses (codatio/oas
``Codat-Sync-Expenses.json``; codat-docs ``docs/expenses/**``). Money goes out and comes back as
``Decimal`` (the client's JSON is ``codatdesk.jsonmoney``).

Retries: reads are retried like every GET. Creating transactions is a write: it carries an
``Idempotency-Key`` and a lost answer is resent with the same key and bytes; besides, each transaction's
own ``id`` is Codat's idempotency key (codat-docs ``docs/expenses/sync-process/expense-transactions.md``),
so a transaction sent twice is never written twice: its second sync reports ``DUPLICATION`` (5080).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .client import CodatClient, _Kind, _segment, new_idempotency_key

__all__ = ["SYNC_STATUS_CODES", "ExpensesApi", "SyncStatus", "TransactionResult"]

# codat-docs docs/expenses/sync-process/syncing-expenses.md, "Sync status codes"
SYNC_STATUS_CODES: dict[int, str] = {
    1000: "In progress", 1010: "In progress (over ten minutes)", 2000: "Success (data written)",
    2040: "Success (no data written)", 4000: "Configuration error", 4040: "Company deleted or de-authorized",
    4220: "Company deleted or de-authorized", 4260: "Accounting software billing expired",
    5000: "Generic server error", 5080: "Duplication protection", 5120: "Data processing error",
    5130: "Data write error",
}
IN_PROGRESS = (1000, 1010)
SUCCESSFUL = (2000, 2040)
DUPLICATION = 5080


@dataclass(frozen=True)
class SyncStatus:
    """CompanySyncStatus: one sync's outcome."""

    company_id: str | None
    sync_id: str | None
    code: int
    status: str | None
    error_message: str | None
    sync_utc: str | None
    data_pushed: bool

    @property
    def finished(self) -> bool:
        return self.code not in IN_PROGRESS

    @property
    def successful(self) -> bool:
        return self.code in SUCCESSFUL

    @property
    def meaning(self) -> str:
        return SYNC_STATUS_CODES.get(self.code, f"Sync status {self.code}")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SyncStatus:
        return cls(body.get("companyId"), body.get("syncId"), int(body.get("syncStatusCode") or 0),
                   body.get("syncStatus"), body.get("errorMessage") or None, body.get("syncUtc"),
                   bool(body.get("dataPushed")))


@dataclass(frozen=True)
class TransactionResult:
    """Transaction: one transaction's status in a sync (Unknown, Pending, ValidationError, Completed, PushError)
    and Codat's message (the reasons, or the record written)."""

    transaction_id: str
    status: str
    message: str | None

    @property
    def completed(self) -> bool:
        return self.status == "Completed"

    @property
    def failed(self) -> bool:
        return self.status in ("ValidationError", "PushError")

    @property
    def duplicate(self) -> bool:
        """Codat refused to write an id it had written already: the transaction is in the ledger."""
        return self.status == "PushError" and (self.message or "").startswith("Duplication protection")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> TransactionResult:
        return cls(str(body.get("transactionId") or ""), str(body.get("status") or "Unknown"), body.get("message"))


class ExpensesApi:
    """Typed calls of the Sync for Expenses API through one ``CodatClient`` (its auth, retries and rate limit)."""

    def __init__(self, client: CodatClient) -> None:
        self._client = client

    @staticmethod
    def _base(company_id: str) -> str:
        return f"/companies/{_segment(company_id)}/sync/expenses"

    def _object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """A call whose answer is a JSON object (Codat's schema for each of these endpoints)."""
        answer: dict[str, Any] = self._client._request(*args, **kwargs)
        return answer

    # -- connection, configuration, mapping options --------------------------------------------

    def create_partner_connection(self, company_id: str) -> dict[str, Any]:
        """The company's Expense (partner) connection, created Linked; returns the Connection."""
        return self._object("POST", self._base(company_id) + "/connections/partnerExpense",
                            kind=_Kind.WRITE, idempotency_key=new_idempotency_key())

    def get_config(self, company_id: str) -> dict[str, Any]:
        return self._object("GET", self._base(company_id) + "/config")

    def set_config(self, company_id: str, *, bank_account_id: str | None, supplier_id: str | None,
                   customer_id: str | None) -> dict[str, Any]:
        """The defaults a transaction without its own bank account or supplier falls back to."""
        body = {"bankAccount": _ref(bank_account_id), "supplier": _ref(supplier_id), "customer": _ref(customer_id)}
        return self._object("POST", self._base(company_id) + "/config", json_body=body,
                            kind=_Kind.WRITE, idempotency_key=new_idempotency_key())

    def mapping_options(self, company_id: str) -> dict[str, Any]:
        """Accounts (validFor, validTransactionTypes), tax rates and tracking categories to map expenses to."""
        return self._object("GET", self._base(company_id) + "/mappingOptions")

    def list_tracking_categories(self, company_id: str) -> list[dict[str, Any]]:
        """The Accounting API's tracking categories (departments, projects, ...)."""
        return self._client._paged(f"/companies/{_segment(company_id)}/data/trackingCategories")

    # -- transactions -------------------------------------------------------------------------

    def create_expense_transactions(self, company_id: str, transactions: Sequence[Mapping[str, Any]], *,
                                    idempotency_key: str | None = None) -> str:
        """Send 1 to 50 ExpenseTransactions (a bare array); Codat starts a sync at once. Returns its syncId."""
        return self._create(company_id, "expense-transactions", transactions, idempotency_key)

    def create_reimbursable_expense_transactions(self, company_id: str, transactions: Sequence[Mapping[str, Any]],
                                                 *, idempotency_key: str | None = None) -> str:
        """Employee claims, written as Bills to the employee's supplier record. Returns the syncId."""
        return self._create(company_id, "reimbursable-expense-transactions", transactions, idempotency_key)

    def update_expense_transaction(self, company_id: str, transaction_id: str, update: Mapping[str, Any]) -> str:
        """Rewrite a synced Payment (Codat answers 422 for other types or an integration without updates)."""
        body = self._client._request(
            "PUT", f"{self._base(company_id)}/expense-transactions/{_segment(transaction_id)}",
            json_body=dict(update), kind=_Kind.WRITE)  # Codat takes Idempotency-Key on POST and PATCH only
        return str(body["syncId"])

    def _create(self, company_id: str, path: str, transactions: Sequence[Mapping[str, Any]],
                idempotency_key: str | None) -> str:
        body = self._client._request("POST", f"{self._base(company_id)}/{path}",
                                     json_body=[dict(t) for t in transactions], kind=_Kind.WRITE,
                                     idempotency_key=idempotency_key or new_idempotency_key())
        return str(body["syncId"])

    # -- syncs ----------------------------------------------------------------------------------

    def sync_status(self, company_id: str, sync_id: str) -> SyncStatus:
        return SyncStatus.from_json(self._client._request(
            "GET", f"{self._base(company_id)}/syncs/{_segment(sync_id)}/status"))

    def latest_sync(self, company_id: str) -> SyncStatus:
        return SyncStatus.from_json(self._client._request("GET", f"{self._base(company_id)}/syncs/latest/status"))

    def last_successful_sync(self, company_id: str) -> SyncStatus:
        return SyncStatus.from_json(self._client._request(
            "GET", f"{self._base(company_id)}/syncs/lastSuccessful/status"))

    def list_syncs(self, company_id: str) -> list[SyncStatus]:
        body = self._client._request("GET", f"{self._base(company_id)}/syncs/list/status")
        return [SyncStatus.from_json(item) for item in body or []]

    def sync_transactions(self, company_id: str, sync_id: str) -> list[TransactionResult]:
        records = self._client._paged(f"{self._base(company_id)}/syncs/{_segment(sync_id)}/transactions",
                                      id_field="transactionId")
        return [TransactionResult.from_json(record) for record in records]

    def sync_transaction(self, company_id: str, sync_id: str, transaction_id: str) -> TransactionResult:
        body = self._client._request(
            "GET", f"{self._base(company_id)}/syncs/{_segment(sync_id)}/transactions/{_segment(transaction_id)}")
        items = body if isinstance(body, list) else [body]  # the spec's TransactionResponse is an array
        return TransactionResult.from_json(items[0] if items else {"transactionId": transaction_id})

    # -- receipts -------------------------------------------------------------------------------

    def upload_attachment(self, company_id: str, sync_id: str, transaction_id: str, file_name: str, content: bytes,
                          content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Attach a receipt to a Completed transaction (multipart ``file``); returns {companyId, id, transactionId}."""
        key = new_idempotency_key()
        return self._object(
            "POST", f"{self._base(company_id)}/syncs/{_segment(sync_id)}/transactions/{_segment(transaction_id)}"
                    "/attachments",
            raw=multipart_file(file_name, content, content_type, boundary=key.replace("-", "")),
            kind=_Kind.WRITE, idempotency_key=key)


def multipart_file(file_name: str, content: bytes, content_type: str, *, boundary: str) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with one part named ``file`` (the spec's AttachmentUpload). Built once,
    so a resend under the same Idempotency-Key is the same bytes."""
    safe_name = file_name.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii"), f"multipart/form-data; boundary={boundary}"


def _ref(record_id: str | None) -> dict[str, str]:
    return {"id": record_id} if record_id else {}
