"""Codat's Sync for Expenses (current API) in the sandbox: configuration, mapping options, expense and
reimbursable transactions, syncs, per-transaction status, attachments and ``expenses.sync.*`` webhooks.

How a sync runs (codat-docs ``docs/expenses/sync-process/syncing-expenses.md``): creating transactions
starts a sync at once (``syncStatusCode`` 1000); ``push_delay`` seconds later each transaction is checked
(``expense_rules``) and written (``Completed``: booked in ``bookings``) or not (``ValidationError`` with
the reasons in ``message``). "Syncs are shown as failed if any of the included items fail to write", so
one failed item fails the sync. A transaction id already ``Completed`` in the company is not written
again (docs/expenses/faq.md: "If a transaction Id has a status of completed, it is not synced again";
sync-process/expense-transactions.md: the id "serves as an idempotence key"): its item ends ``PushError``
with a "Duplication protection" message and the sync ends 5080 (the item status is a sandbox choice). A
transaction that failed may be sent again with the same id (faq.md).

Sync status codes used (syncing-expenses.md table): 2000 data written, 2040 nothing written, 4000 no
Linked partner expense connection (Configuration error), 4220 the accounting connection is not Linked
(Company deleted/de-authorized), 5080 duplicates only, 5120 any item failed its checks. ``syncStatus``
is "Complete" for 2000/2040 and "PushError" for a failure (the docs' examples), "InProgress" while running
(sandbox choice). Webhooks: ``expenses.sync.successful`` / ``expenses.sync.unsuccessful``
(Codat-Webhooks.json ``ExpensesSyncWebhook``; its transaction status has no ValidationError: "Failed").
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import reference_data as ref
from .delivery import Message
from .expense_rules import (
    REIMBURSABLE,
    Ledger,
    account_valid_for,
    account_valid_types,
    rules_for,
    tax_rate_valid_types,
    transaction_problems,
    update_refusal,
)
from .jsonio import codat_time
from .state import ApiError

if TYPE_CHECKING:
    from .core import Sandbox

PARTNER_EXPENSE_KEY = "partner-expense"  # sandbox choice: Codat does not publish the integration key
PARTNER_EXPENSE_NAME = "Partner Expense"  # mappingOptions expenseProvider in codat-docs config-and-categorize.md

IN_PROGRESS, SUCCESS, NOTHING_WRITTEN = 1000, 2000, 2040
CONFIGURATION_ERROR, DEAUTHORIZED, DUPLICATION, PROCESSING_ERROR = 4000, 4220, 5080, 5120
SUCCESSFUL = "expenses.sync.successful"
UNSUCCESSFUL = "expenses.sync.unsuccessful"


@dataclass
class SyncItem:
    transaction_id: str
    body: dict[str, Any]
    reimbursable: bool = False
    update: bool = False
    status: str = "Pending"
    message: str | None = None

    @property
    def valid_for(self) -> str:
        return REIMBURSABLE if self.reimbursable else f"expense-transactions.{self.body.get('type')}"

    def to_json(self) -> dict[str, Any]:
        return {"transactionId": self.transaction_id, "status": self.status, "message": self.message,
                "integrationType": "expenses"}


@dataclass
class ExpenseSync:
    sync_id: str
    company_id: str
    items: list[SyncItem]
    requested: str
    completed: str | None = None
    status_code: int = IN_PROGRESS
    error_message: str = ""

    def to_json(self) -> dict[str, Any]:
        done = self.status_code != IN_PROGRESS
        return {
            "companyId": self.company_id, "syncId": self.sync_id, "syncStatusCode": self.status_code,
            "syncStatus": ("Complete" if self.status_code in (SUCCESS, NOTHING_WRITTEN) else "PushError")
            if done else "InProgress",
            "errorMessage": self.error_message, "syncExceptionMessage": self.error_message,
            "syncUtc": self.completed or self.requested,
            "dataPushed": any(item.status == "Completed" for item in self.items),
        }


@dataclass
class CompanyExpenses:
    config: dict[str, Any] | None = None
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # transaction id -> booking
    syncs: list[ExpenseSync] = field(default_factory=list)


class ExpensesEmulator:
    """The Expenses state of every company, behind the sandbox state's lock."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._state = sandbox.state
        self._companies: dict[str, CompanyExpenses] = {}

    def company(self, company_id: str) -> CompanyExpenses:
        self._state.company(company_id)  # 404 for an unknown company
        with self._state.lock:
            data = self._companies.get(company_id)
            if data is None:
                now = codat_time()
                data = CompanyExpenses()
                # uuid5: the customers' ids do not consume the seeded id sequence of other records
                names = iter(range(1000))
                data.customers = {c["id"]: c for c in ref.demo_customers(
                    lambda: str(uuid.uuid5(uuid.NAMESPACE_URL, f"customer:{company_id}:{next(names)}")), now)}
                self._companies[company_id] = data
            return data

    # -- connections and configuration ----------------------------------------------------

    def create_partner_connection(self, company_id: str) -> dict[str, Any]:
        """POST .../sync/expenses/connections/partnerExpense: created Linked (codat-api-notes §5.1).
        A second call returns the existing one (sandbox choice)."""
        data = self._state.company(company_id)
        with self._state.lock:
            for connection in data.connections.values():
                if connection["sourceType"] == "Expense" and connection["integrationKey"] == PARTNER_EXPENSE_KEY:
                    return dict(connection)
        return self._sandbox.add_source_connection(company_id, "Expense", PARTNER_EXPENSE_KEY, PARTNER_EXPENSE_NAME)

    def config(self, company_id: str) -> dict[str, Any]:
        data = self.company(company_id)
        with self._state.lock:
            if data.config is None:
                return {"bankAccount": {}, "supplier": {}, "customer": {}}  # sandbox choice: nothing set yet
            return copy.deepcopy(data.config)

    def set_config(self, company_id: str, body: Any) -> dict[str, Any]:
        """All three objects are required (spec CompanyConfiguration); a given id must exist (sandbox choice)."""
        if not isinstance(body, dict) or not all(isinstance(body.get(k), dict)
                                                 for k in ("bankAccount", "supplier", "customer")):
            raise _bad("The configuration must hold the bankAccount, supplier and customer objects.", "Config")
        data = self.company(company_id)
        ledger = self.ledger(company_id)
        checks = (("bankAccount", ledger.bank_account_ids, "bank account"), ("supplier", ledger.suppliers, "supplier"),
                  ("customer", ledger.customers, "customer"))
        for name, known, label in checks:
            value = body[name].get("id")
            if value is not None and value not in known:
                raise _bad(f"No {label} was found with ID {value}.", f"{name[0].upper()}{name[1:]}.Id")
        config = {name: {"id": body[name]["id"]} if body[name].get("id") is not None else {}
                  for name in ("bankAccount", "supplier", "customer")}
        with self._state.lock:
            data.config = config
        return copy.deepcopy(config)

    def mapping_options(self, company_id: str) -> dict[str, Any]:
        ledger = self.ledger(company_id)
        return {
            "expenseProvider": PARTNER_EXPENSE_NAME,
            "accounts": list(ledger.accounts.values()),
            "trackingCategories": list(ledger.tracking.values()),
            "taxRates": list(ledger.tax_rates.values()),
        }

    def ledger(self, company_id: str) -> Ledger:
        """The company's ledger as the mapping options show it (Codat's cache, not uncached writes)."""
        data = self.company(company_id)
        company = self._state.company(company_id)
        accounts: dict[str, dict[str, Any]] = {}
        for account in self._state.cached_accounts(company_id):
            valid_for = account_valid_for(account)
            accounts[account["id"]] = {
                "id": account["id"], "nominalCode": account["nominalCode"], "name": account["name"],
                "currency": account["currency"], "accountType": account["type"]
                if account["type"] in ("Asset", "Liability", "Income", "Expense", "Equity") else "Asset",
                "fullyQualifiedCategory": account["fullyQualifiedCategory"],
                "isBankAccount": account["isBankAccount"],
                "validTransactionTypes": account_valid_types(valid_for), "validFor": valid_for,
            }
        with self._state.lock:
            tax_rates = {t["id"]: {"id": t["id"], "name": t["name"], "code": t["code"],
                                   "effectiveTaxRate": t["effectiveTaxRate"], "totalTaxRate": t["totalTaxRate"],
                                   "validTransactionTypes": tax_rate_valid_types(t)}
                         for t in company.tax_rates.values()}
            tracking = {t["id"]: {"id": t["id"], "name": t["name"], "hasChildren": t["hasChildren"],
                                  "parentId": t["parentId"]} for t in company.tracking_categories.values()}
            return Ledger(
                platform_key=company.platform_key, base_currency=company.base_currency, accounts=accounts,
                tax_rates=tax_rates, tracking=tracking,
                suppliers={s["id"]: s for s in self._state.cached_suppliers(company_id)},
                customers=dict(data.customers),
                bank_account_ids={a["id"] for a in accounts.values() if a["isBankAccount"]},
                config=copy.deepcopy(data.config),
            )

    def tracking_categories(self, company_id: str) -> list[dict[str, Any]]:
        """The company's tracking categories: the Accounting API's (one list for both products)."""
        company = self._state.company(company_id)
        with self._state.lock:
            return [dict(t) for t in company.tracking_categories.values()]

    # -- transactions and syncs -------------------------------------------------------------

    def create(self, company_id: str, transactions: list[dict[str, Any]], *, reimbursable: bool) -> str:
        """Start a sync of the (already shape-checked) transactions; returns its syncId."""
        rules = rules_for(self._state.company(company_id).platform_key)
        if reimbursable and not rules.reimbursable:
            # spec create-reimbursable-expense-transaction "Supported Integrations" (status: sandbox choice,
            # the spec's 422 "differences in platform support")
            raise ApiError(422, f"Reimbursable expense transactions are not supported for {rules.name}.",
                           service="ExpenseSyncApi")
        items = [SyncItem(t["id"], copy.deepcopy(t), reimbursable=reimbursable) for t in transactions]
        return self._start(company_id, items)

    def update(self, company_id: str, transaction_id: str, body: dict[str, Any]) -> str:
        """PUT .../expense-transactions/{id}: a Completed Payment is rewritten by a new sync."""
        data = self.company(company_id)
        rules = rules_for(self._state.company(company_id).platform_key)
        with self._state.lock:
            written = data.written.get(transaction_id)
        if written is None or written["reimbursable"]:
            raise ApiError(404, f"No expense transaction was found with ID {transaction_id}.",
                           service="ExpenseSyncApi")
        refusal = update_refusal(rules, written["type"], body)
        if refusal:
            raise ApiError(422, refusal, service="ExpenseSyncApi")  # spec 422 example, service ExpenseSyncApi
        return self._start(company_id, [SyncItem(transaction_id, {**copy.deepcopy(body), "id": transaction_id},
                                                 update=True)])

    def _start(self, company_id: str, items: list[SyncItem]) -> str:
        data = self.company(company_id)
        sync = ExpenseSync(self._state.ids.uuid(), company_id, items, codat_time())
        with self._state.lock:
            data.syncs.append(sync)
        self._sandbox.run_later(self._sandbox.config.push_delay, lambda: self._complete(sync))
        return sync.sync_id

    def _complete(self, sync: ExpenseSync) -> None:
        data = self.company(sync.company_id)
        company = self._state.company(sync.company_id)
        ledger = self.ledger(sync.company_id)
        with self._state.lock:
            connections = list(company.connections.values())
            accounting_linked = any(c["sourceType"] == "Accounting" and c["status"] == "Linked" for c in connections)
            partner_linked = any(c["sourceType"] == "Expense" and c["status"] == "Linked" for c in connections)
            if not accounting_linked or not partner_linked:
                sync.status_code = DEAUTHORIZED if not accounting_linked else CONFIGURATION_ERROR
                sync.error_message = ("The accounting connection is not Linked." if not accounting_linked else
                                      "The company has no partner expense connection: create it first.")
                for item in sync.items:
                    item.status, item.message = "PushError", sync.error_message
            else:
                for item in sync.items:
                    self._write(item, sync, data, ledger)
                failed = [i for i in sync.items if i.status != "Completed"]
                duplicates = [i for i in failed if i.status == "PushError"]
                if not failed:
                    sync.status_code = SUCCESS
                elif len(duplicates) == len(failed):
                    sync.status_code = DUPLICATION
                    sync.error_message = "Duplication protection: " + ", ".join(i.transaction_id for i in duplicates)
                else:
                    sync.status_code = PROCESSING_ERROR
                    sync.error_message = f"{len(failed)} of {len(sync.items)} transactions failed; see each one."
            sync.completed = codat_time()
            message = self._webhook(sync)
        self._sandbox.deliverer.publish(message)

    def _write(self, item: SyncItem, sync: ExpenseSync, data: CompanyExpenses, ledger: Ledger) -> None:
        earlier = data.written.get(item.transaction_id)
        if earlier is not None and not item.update:
            item.status = "PushError"
            item.message = (f"Duplication protection: transaction {item.transaction_id} was already written "
                            f"in sync {earlier['syncId']}; it is not written again.")
            return
        problems = transaction_problems(item.body, ledger, reimbursable=item.reimbursable)
        if problems:
            item.status, item.message = "ValidationError", " ".join(problems)
            return
        entry = booking(item, sync.sync_id, ledger)
        if earlier is not None:  # an update keeps the record, its receipts and its first sync
            entry.update(syncId=earlier["syncId"], attachments=earlier["attachments"],
                         updates=earlier.get("updates", 0) + 1)
        data.written[item.transaction_id] = entry
        item.status = "Completed"
        item.message = f"{'Updated' if earlier else 'Created'} {entry['recordType']} {entry['recordId']}."

    def _webhook(self, sync: ExpenseSync) -> Message:
        event_type = SUCCESSFUL if sync.status_code in (SUCCESS, NOTHING_WRITTEN) else UNSUCCESSFUL
        reference = self._state.company_reference(sync.company_id)
        transactions = [{"id": i.transaction_id, "status": "Failed" if i.status == "ValidationError" else i.status,
                         "errorMessage": None if i.status == "Completed" else i.message} for i in sync.items]
        body = {"id": self._state.ids.uuid(), "eventType": event_type, "generatedDate": codat_time(),
                "payload": {"referenceCompany": reference, "syncId": sync.sync_id, "transactions": transactions}}
        return Message(event_type=event_type, body=body, legacy_event_type=None, legacy_body=None,
                       company_tags=reference.get("tags"))

    # -- reads ---------------------------------------------------------------------------------

    def sync(self, company_id: str, sync_id: str) -> ExpenseSync:
        data = self.company(company_id)
        with self._state.lock:
            for sync in data.syncs:
                if sync.sync_id == sync_id:
                    return sync
        raise ApiError(404, f"No sync was found with ID {sync_id}.", service="ExpenseSyncApi")

    def sync_status(self, company_id: str, sync_id: str) -> dict[str, Any]:
        sync = self.sync(company_id, sync_id)
        with self._state.lock:
            return sync.to_json()

    def sync_statuses(self, company_id: str) -> list[dict[str, Any]]:
        data = self.company(company_id)
        with self._state.lock:
            return [sync.to_json() for sync in data.syncs]

    def latest(self, company_id: str, *, successful: bool) -> dict[str, Any]:
        data = self.company(company_id)
        with self._state.lock:
            for sync in reversed(data.syncs):
                if not successful or sync.status_code in (SUCCESS, NOTHING_WRITTEN):
                    return sync.to_json()
        raise ApiError(404, "No sync was found for this company.", service="ExpenseSyncApi")

    def sync_transactions(self, company_id: str, sync_id: str) -> list[dict[str, Any]]:
        sync = self.sync(company_id, sync_id)
        with self._state.lock:
            return [item.to_json() for item in sync.items]

    def sync_transaction(self, company_id: str, sync_id: str, transaction_id: str) -> dict[str, Any]:
        for item in self.sync_transactions(company_id, sync_id):
            if item["transactionId"] == transaction_id:
                return item
        raise ApiError(404, f"Transaction {transaction_id} is not part of sync {sync_id}.", service="ExpenseSyncApi")

    def bookings(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """What the ledger holds for each written transaction (check duplicates and amounts here)."""
        data = self.company(company_id or self._sandbox.company_id)
        with self._state.lock:
            return copy.deepcopy(list(data.written.values()))

    # -- attachments ---------------------------------------------------------------------------

    def attach(self, company_id: str, sync_id: str, transaction_id: str, filename: str, content: bytes) -> dict[str, Any]:
        """Upload a receipt to a written transaction (spec upload-expense-attachment; codat-docs
        docs/expenses/sync-process/uploading-receipts.md). Refusals are 400 (sandbox choice), an
        unsupported integration 422 (the spec's "differences in platform support")."""
        data = self.company(company_id)
        rules = rules_for(self._state.company(company_id).platform_key)
        item = next((i for i in self.sync(company_id, sync_id).items if i.transaction_id == transaction_id), None)
        if item is None:
            raise ApiError(404, f"Transaction {transaction_id} is not part of sync {sync_id}.", service="ExpenseSyncApi")
        if rules.attachment_max_bytes is None:
            raise ApiError(422, f"{rules.name} does not support attachment upload.", service="ExpenseSyncApi")
        with self._state.lock:
            status, written = item.status, data.written.get(transaction_id)
        if status != "Completed" or written is None:
            # uploading-receipts.md / expense-transactions.md: attach "once these transactions have been synced"
            raise _bad(f"Transaction {transaction_id} is {status} in sync {sync_id}; upload its receipt once it "
                       "is Completed.", "TransactionId")
        if rules.attachment_types is not None and item.valid_for not in rules.attachment_types:
            raise ApiError(422, f"{rules.name} does not take attachments on {item.valid_for}.",
                           service="ExpenseSyncApi")
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if extension not in rules.attachment_extensions:
            raise _bad(f"{rules.name} does not accept .{extension or '(none)'} files; accepted: "
                       f"{', '.join(sorted(rules.attachment_extensions))}.", "File")
        if len(content) > rules.attachment_max_bytes:
            raise _bad(f"The file is {len(content)} bytes; {rules.name} accepts at most "
                       f"{rules.attachment_max_bytes // (1024 * 1024)} MB.", "File")
        attachment = {"companyId": company_id, "id": self._state.ids.uuid(), "transactionId": transaction_id}
        with self._state.lock:
            written["attachments"].append({**attachment, "fileName": filename, "size": len(content)})
        return attachment




def booking(item: SyncItem, sync_id: str, ledger: Ledger) -> dict[str, Any]:
    """The ledger's record of a written transaction. Refund, Chargeback and Reward bring money in
    (receive money); a Payment spends it; a reimbursable expense is a Bill to the employee (spec)."""
    body = item.body
    lines = body.get("lines") or []
    net = sum((Decimal(line["netAmount"]) for line in lines), Decimal(0))
    tax = sum((Decimal(line.get("taxAmount") or 0) for line in lines), Decimal(0))
    currency = body["currency"]
    rate = Decimal(body["currencyRate"]) if body.get("currencyRate") is not None else Decimal(1)
    if currency == ledger.base_currency:
        rate = Decimal(1)
    kind = "Reimbursable" if item.reimbursable else body["type"]
    record_type = {"Reimbursable": "bill", "Payment": "spend money"}.get(kind, "receive money")
    config = ledger.config or {}
    contact = (body.get("contactRef") or {}).get("id") or (config.get("supplier") or {}).get("id")
    bank = None if item.reimbursable else (body.get("bankAccountRef") or {}).get("id") or \
        (config.get("bankAccount") or {}).get("id")
    return {
        "transactionId": item.transaction_id, "syncId": sync_id, "type": kind, "reimbursable": item.reimbursable,
        "recordType": record_type, "recordId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"expense:{item.transaction_id}")),
        "contactId": contact, "bankAccountId": bank, "currency": currency, "rateApplied": rate,
        "netAmount": net, "taxAmount": tax, "totalAmount": net + tax, "baseTotalAmount": (net + tax) * rate,
        "issueDate": body.get("issueDate"), "dueDate": body.get("dueDate"), "reference": body.get("reference"),
        "lines": [{"accountId": (line.get("accountRef") or {}).get("id"),
                   "itemId": (line.get("itemRef") or {}).get("id"),
                   "taxRateId": (line.get("taxRateRef") or {}).get("id"),
                   "netAmount": Decimal(line["netAmount"]), "taxAmount": Decimal(line.get("taxAmount") or 0),
                   "trackingIds": [r.get("id") for r in line.get("trackingRefs") or []]} for line in lines],
        "attachments": [],
    }


def _bad(message: str, item_id: str) -> ApiError:
    return ApiError(400, message, service="ExpenseSyncApi",
                    validation={"errors": [{"itemId": item_id, "message": message, "validatorName": "Expenses"}],
                                "warnings": []})
