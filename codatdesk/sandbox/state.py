"""In-memory model of the sandbox (companies, connections, ledger, push operations,
webhook consumers) and the rules that decide how a push operation ends.

The rules below are the ones every company shares; each company adds the rules of the integration
behind its accounting connection (``codatdesk.sandbox.profiles``: Xero, QuickBooks Online, QuickBooks
Desktop; create models, contact, lengths, categories, currency rate, negative amounts, on-premise
waiting). ``docs/ledger-rules.md`` lists every rule with its source and its test.

Push outcome rules (evaluated when the operation completes, ``push_delay`` seconds after
the request, so a record created by an earlier push counts):

TimedOut (decided when the push is requested)
  * a seeded ``timeout_share`` of operations, and
  * any directCost whose ``note`` (or account whose ``name``/``description``) contains
    ``[sandbox:timeout]`` (deterministic hook for tests), and
  * any push whose ``timeoutInMinutes`` is shorter than ``push_delay`` (it ends TimedOut
    after timeoutInMinutes; ``timeoutInMinutes=0`` times out at once).
  A timed-out write is *not* applied. statusCode 504.

Failed (statusCode 400, ``errorMessage`` "Push failed for <Type>: see validation",
``validation.errors`` = [{itemId, message, validatorName}]) when any of:

  directCosts
    * a required field is missing or of the wrong type: issueDate, currency, lineItems
      (at least one), paymentAllocations (at least one, each with payment and allocation),
      subTotal, taxAmount, totalAmount; lineItems[].quantity/unitAmount; lineItems[].accountRef.id;
      paymentAllocations[].payment.accountRef.id;
    * issueDate is not an ISO 8601 date or date-time;
    * currency is not three upper-case letters (ISO 4217 style);
    * subTotal + taxAmount != totalAmount (exact Decimal arithmetic);
    * lineItems[].accountRef.id is not an account of the company's ledger;
    * paymentAllocations[].payment.accountRef.id is not a ledger account with isBankAccount;
    * contactRef.id is not a supplier (contactRef.dataType "customers" is never found: the demo
      ledger has no customers);
    * lineItems[].taxRateRef.id is not a tax rate;
    * lineItems[].tracking without recordRefs, or a recordRef that is not a tracking category
      (dataType "trackingCategories"), or a category with sub-categories (sandbox choice);
    * a read-only field (id, modifiedDate, sourceModifiedDate) is sent.
  chartOfAccounts (accounts)
    * nominalCode not a string or already used in the ledger (required flag and length: profile);
    * name missing;
    * fullyQualifiedCategory not one of the profile's options;
    * currency present but not three upper-case letters; a read-only field is sent.

  suppliers: see ``codatdesk.sandbox.suppliers`` (name required and unique, model lengths, status).

Success (statusCode 200) otherwise: the record is created with a new id, which appears in
``changes[{type: "Created", recordRef: {id, dataType}}]`` and in the webhook's
``payload.record.id``. A created directCost is added to the ledger (``Sandbox.ledger``).
A created record (account, supplier, direct cost) is in the accounting platform at once (so a
following directCost can use it) but, as in Codat, shows in Codat's reads (``GET /data/accounts``,
``/data/suppliers``, ``.../data/directCosts/{id}``) only after a sync of its data type:
``POST /companies/{id}/data/queue/{dataType}`` (or ``/data/all``), or the push's own
``allowSyncOnPushComplete`` (default true: "Allow a sync upon push completion", oas
``Codat-Sync-Expenses.json`` parameter ``allowSyncOnPushComplete``; false: no sync).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from . import profiles
from . import reference_data as ref
from .jsonio import codat_time
from .profiles import Profile
from .suppliers import evaluate_supplier, supplier_record

WRITE_DATA_TYPES = ("directCosts", "chartOfAccounts", "suppliers")
CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
TIMEOUT_HOOK = "[sandbox:timeout]"
READ_ONLY_FIELDS = ("id", "modifiedDate", "sourceModifiedDate")

STATUS_CODE_PENDING = 202
STATUS_CODE_SUCCESS = 200
STATUS_CODE_FAILED = 400
STATUS_CODE_TIMED_OUT = 504

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ApiError(Exception):
    """An error Codat answers with its ErrorMessage body."""

    def __init__(self, status: int, message: str, *, service: str = "PublicApi",
                 validation: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.service = service
        self.validation = validation
        self.headers = headers or {}


class IdFactory:
    """Seeded UUID4s, so a sandbox with the same seed hands out the same ids."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(f"ids:{seed}") if seed is not None else random.SystemRandom()
        self._lock = threading.Lock()

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def token(self, nbytes: int) -> bytes:
        with self._lock:
            return bytes(self._rng.getrandbits(8) for _ in range(nbytes))


@dataclass
class PushRecord:
    key: str
    company_id: str
    connection_id: str
    data_type: str
    body: Any
    requested_on: str
    timeout_in_minutes: int | None
    timed_out: bool
    status: str = "Pending"
    status_code: int = STATUS_CODE_PENDING
    completed_on: str | None = None
    error_message: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    record_id: str | None = None
    record_data_type: str | None = None  # what was created, when the ledger wrote another type (Xero negatives)
    # allowSyncOnPushComplete: a successful push refreshes Codat's cache of its data type.
    allow_sync: bool = True

    @property
    def is_pending(self) -> bool:
        return self.status == "Pending"

    def to_json(self) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "changes": (
                [{"type": "Created", "recordRef": {"id": self.record_id,
                                                   "dataType": self.record_data_type or self.data_type},
                  "attachmentId": None}]
                if self.record_id else None
            ),
            "dataType": self.data_type,
            "companyId": self.company_id,
            "pushOperationKey": self.key,
            "dataConnectionKey": self.connection_id,
            "requestedOnUtc": self.requested_on,
            "timeoutInMinutes": self.timeout_in_minutes,
            "status": self.status,
            "errorMessage": self.error_message,
            "validation": {"errors": list(self.errors), "warnings": list(self.warnings)},
            "statusCode": self.status_code,
        }
        if self.completed_on:  # the schema does not allow null here: absent while Pending
            operation["completedOnUtc"] = self.completed_on
        return operation


@dataclass
class Consumer:
    id: str
    url: str
    event_types: list[str]
    secret: str
    disabled: bool = False
    company_tags: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "disabled": self.disabled,
                "eventTypes": list(self.event_types), "companyTags": self.company_tags}

    def wants(self, event_type: str, company_tags: dict[str, str] | None) -> bool:
        if self.disabled or event_type not in self.event_types:
            return False
        if not self.company_tags:
            return True
        tags = company_tags or {}
        return any(f"{key}:{value}" in self.company_tags for key, value in tags.items())


@dataclass
class CompanyData:
    company: dict[str, Any]
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # the platform's truth
    cached_account_ids: set[str] = field(default_factory=set)          # what Codat's cache shows
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)
    cached_supplier_ids: set[str] = field(default_factory=set)
    tax_rates: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracking_categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    direct_costs: list[dict[str, Any]] = field(default_factory=list)
    cached_direct_cost_ids: set[str] = field(default_factory=set)
    # The ledger's currency (CompanyInfo.baseCurrency, GET /companies/{id}/data/info).
    base_currency: str = ref.DEMO_CURRENCY
    # What the platform booked for each direct cost, in the base currency (see ``booking``).
    bookings: list[dict[str, Any]] = field(default_factory=list)
    # The integration behind the company's accounting connection (see ``profiles``).
    platform_key: str = ref.PLATFORM_KEY
    # On-premise ledgers: whether the desktop connector is reachable (sandbox knob; see Sandbox.set_connector_online).
    connector_online: bool = False

    @property
    def profile(self) -> Profile:
        return profiles.profile_for(self.platform_key)


class SandboxState:
    """All sandbox data behind one lock; methods are short and never block on I/O."""

    def __init__(self, ids: IdFactory) -> None:
        self.ids = ids
        self.lock = threading.RLock()
        self.companies: dict[str, CompanyData] = {}
        self.push_operations: dict[str, PushRecord] = {}
        self.consumers: dict[str, Consumer] = {}

    # -- companies and connections -------------------------------------------------

    def create_company(self, name: str, description: str | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
        company_id = self.ids.uuid()
        now = codat_time()
        company = {
            "id": company_id,
            "name": name,
            "description": description,
            "redirect": f"https://link.codat.io/company/{company_id}",
            "lastSync": None,
            "created": now,
            "createdByUserName": "sandbox",
            "products": [],
            "tags": dict(tags or {}),
        }
        with self.lock:
            self.companies[company_id] = CompanyData(company=company)
        return self.company_json(company_id)

    def add_connection(self, company_id: str, status: str = "PendingAuth", platform_key: str = ref.PLATFORM_KEY,
                       source_type: str = "Accounting", platform_name: str | None = None) -> dict[str, Any]:
        connection_id = self.ids.uuid()
        now = codat_time()
        name = platform_name or (profiles.PROFILES[platform_key].name if platform_key in profiles.PROFILES
                                 else platform_key)
        connection = {
            "id": connection_id,
            "integrationId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"codat-integration:{platform_key}")),
            "integrationKey": platform_key,
            "sourceId": self.ids.uuid(),
            "platformName": name,
            "linkUrl": f"https://link-api.codat.io/companies/{company_id}/connections/{connection_id}/start",
            "status": status,
            "lastSync": now if status == "Linked" else None,
            "created": now,
            "sourceType": source_type,
            "dataConnectionErrors": [],
            "connectionInfo": None,
        }
        with self.lock:
            data = self.company(company_id)
            data.connections[connection_id] = connection
            if source_type == "Accounting":
                data.platform_key = platform_key
            if status == "Linked":
                data.company["lastSync"] = now
            return dict(connection)

    def seed_ledger(self, company_id: str) -> None:
        now = codat_time()
        with self.lock:
            data = self.company(company_id)
            for account in ref.demo_accounts(self.ids.uuid, now):
                data.accounts[account["id"]] = account
                data.cached_account_ids.add(account["id"])
            for supplier in ref.demo_suppliers(self.ids.uuid, now):
                data.suppliers[supplier["id"]] = supplier
                data.cached_supplier_ids.add(supplier["id"])
            for tax_rate in ref.demo_tax_rates(self.ids.uuid, now):
                data.tax_rates[tax_rate["id"]] = tax_rate
            for category in ref.demo_tracking_categories(now):
                data.tracking_categories[category["id"]] = category

    def company(self, company_id: str) -> CompanyData:
        with self.lock:
            data = self.companies.get(company_id)
        if data is None:
            raise ApiError(404, f"No company was found with ID {company_id}", service="ClientsApi")
        return data

    def connection(self, company_id: str, connection_id: str) -> dict[str, Any]:
        data = self.company(company_id)
        with self.lock:
            connection = data.connections.get(connection_id)
        if connection is None:
            raise ApiError(404, f"Data connection {connection_id} not found")
        return connection

    def company_json(self, company_id: str) -> dict[str, Any]:
        with self.lock:
            data = self.company(company_id)
            return {**data.company, "tags": dict(data.company["tags"]),
                    "dataConnections": [dict(c) for c in data.connections.values()]}

    def company_info(self, company_id: str) -> dict[str, Any]:
        """CompanyInfo (CompanyDataset) as the accounting platform states it."""
        with self.lock:
            data = self.company(company_id)
            return {
                "companyName": data.company["name"],
                "accountingPlatformRef": data.company["id"],
                "companyLegalName": data.company["name"],
                "addresses": [], "phoneNumbers": [], "webLinks": [],
                "registrationNumber": None, "taxNumber": None,
                "financialYearStartDate": "2026-04-01T00:00:00",
                "baseCurrency": data.base_currency,
                "sourceUrls": {},
                "createdDate": data.company["created"],
            }

    def set_base_currency(self, company_id: str, currency: str) -> None:
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise ApiError(400, f"Currency {currency!r} is not a valid ISO 4217 code.")
        with self.lock:
            self.company(company_id).base_currency = currency

    def company_reference(self, company_id: str) -> dict[str, Any]:
        with self.lock:
            company = self.company(company_id).company
            return {
                "id": company["id"],
                "name": company["name"],
                "description": company["description"],
                "links": {"portal": f"https://app.codat.io/companies/{company['id']}/summary"},
                "tags": dict(company["tags"]),
            }

    def set_connection_status(self, company_id: str, connection_id: str, status: str) -> tuple[str, dict[str, Any]]:
        """Change a connection's status; returns (old status, new connection JSON)."""
        if status not in CONNECTION_STATUSES:
            raise ApiError(400, f"Invalid connection status {status!r}; expected one of {', '.join(CONNECTION_STATUSES)}")
        now = codat_time()
        with self.lock:
            connection = self.connection(company_id, connection_id)
            old = connection["status"]
            connection["status"] = status
            errors = connection["dataConnectionErrors"] = [dict(e) for e in connection["dataConnectionErrors"] or []]
            if status == "Deauthorized" and old != "Deauthorized":
                errors.append({
                    "statusCode": "401",
                    "statusText": "The integration de-authorized access to the connection.",
                    "errorMessage": "The integration de-authorized access to the connection.",
                    "erroredOnUtc": now,
                    "status": "Active",
                    "resolvedOnUtc": None,
                })
            if status == "Linked":
                for error in errors:
                    if error.get("status") == "Active":
                        error["status"] = "Resolved"
                        error["resolvedOnUtc"] = now
                connection["lastSync"] = now
            return old, dict(connection)

    # -- reads ---------------------------------------------------------------------

    def cached_accounts(self, company_id: str) -> list[dict[str, Any]]:
        with self.lock:
            data = self.company(company_id)
            return [dict(a) for a in data.accounts.values() if a["id"] in data.cached_account_ids]

    def cached_suppliers(self, company_id: str) -> list[dict[str, Any]]:
        with self.lock:
            data = self.company(company_id)
            return [dict(s) for s in data.suppliers.values() if s["id"] in data.cached_supplier_ids]

    def cached_direct_costs(self, company_id: str) -> list[dict[str, Any]]:
        with self.lock:
            data = self.company(company_id)
            return [dict(c) for c in data.direct_costs if c["id"] in data.cached_direct_cost_ids]

    def refresh_cache(self, company_id: str, data_type: str) -> None:
        """A sync of ``data_type``: Codat's cache now shows what the platform holds.

        Codat does not store written records in its cache; they are read after a sync of their data
        type (codat-docs ``docs/using-the-api/push.md``, "Access created or updated records")."""
        with self.lock:
            data = self.company(company_id)
            if data_type in ("chartOfAccounts", "bankAccounts", "all"):
                data.cached_account_ids = set(data.accounts)
            if data_type in ("suppliers", "all"):
                data.cached_supplier_ids = set(data.suppliers)
            if data_type in ("directCosts", "all"):
                data.cached_direct_cost_ids = {cost["id"] for cost in data.direct_costs}
            data.company["lastSync"] = codat_time()

    # -- push operations -------------------------------------------------------------

    def create_push(self, company_id: str, connection_id: str, data_type: str, body: Any,
                    timeout_in_minutes: int | None, timed_out: bool, allow_sync: bool = True) -> PushRecord:
        record = PushRecord(
            key=self.ids.uuid(),
            company_id=company_id,
            connection_id=connection_id,
            data_type=data_type,
            body=body,
            requested_on=codat_time(),
            timeout_in_minutes=timeout_in_minutes,
            timed_out=timed_out,
            allow_sync=allow_sync,
        )
        with self.lock:
            self.push_operations[record.key] = record
        return record

    def push_operation(self, company_id: str, key: str) -> PushRecord:
        self.company(company_id)
        with self.lock:
            record = self.push_operations.get(key)
        if record is None or record.company_id != company_id:
            raise ApiError(404, f"Push operation {key} not found")
        return record

    def complete_push(self, key: str) -> PushRecord:
        """Decide and apply the outcome of a pending push (idempotent)."""
        with self.lock:
            record = self.push_operations[key]
            if not record.is_pending:
                return record
            record.completed_on = codat_time()
            if record.timed_out:
                record.status, record.status_code = "TimedOut", STATUS_CODE_TIMED_OUT
                record.error_message = "The push operation did not complete within the allowed time."
                return record
            data = self.companies[record.company_id]
            profile = data.profile
            if record.data_type == "suppliers":
                verdict = evaluate_supplier(record.body, list(data.suppliers.values()), profile.suppliers)
                errors, label = verdict.errors, "Supplier"
                record.warnings = verdict.warnings
            elif record.data_type == "directCosts":
                errors = evaluate_direct_cost(record.body, data)
                errors += profiles.direct_cost_errors(record.body, profile, data.accounts, data.base_currency)
                label = "DirectCost"
                if not errors:
                    record.warnings = profiles.direct_cost_warnings(record.body, profile)
            else:
                errors = evaluate_account(record.body, data)
                errors += [e for e in profiles.account_errors(record.body, profile)
                           if e["itemId"] not in {known["itemId"] for known in errors}]
                label = "Account"
            if errors:
                record.status, record.status_code = "Failed", STATUS_CODE_FAILED
                record.errors = errors
                record.error_message = f"Push failed for {label}: see validation"
                return record
            record.record_id = self._apply(record, data)
            record.status, record.status_code = "Success", STATUS_CODE_SUCCESS
            if record.allow_sync:
                self.refresh_cache(record.company_id, record.data_type)
            return record

    def _apply(self, record: PushRecord, data: CompanyData) -> str:
        now = record.completed_on or codat_time()
        body = record.body
        if record.data_type == "suppliers":
            verdict = evaluate_supplier(body, list(data.suppliers.values()), data.profile.suppliers)
            supplier = supplier_record(self.ids.uuid(), body, verdict.name or "", data.base_currency, now)
            data.suppliers[supplier["id"]] = supplier
            return supplier["id"]
        if record.data_type == "directCosts":
            record_id = self.ids.uuid()
            data.direct_costs.append({
                **body, "id": record_id, "metadata": {"isDeleted": False},
                "modifiedDate": now, "sourceModifiedDate": now,
            })
            entry = booking(record_id, body, data.base_currency, data.profile, data.tax_rates)
            if entry["bookedAs"] == profiles.REVERSE:
                record.record_data_type = "directIncomes"
            data.bookings.append(entry)
            return record_id
        account = ref.account_record(
            self.ids.uuid(), body.get("nominalCode"), body["name"], body["fullyQualifiedCategory"],
            bool(body.get("isBankAccount", False)), now,
            description=body.get("description"), currency=body.get("currency") or data.base_currency,
        )
        data.accounts[account["id"]] = account
        return account["id"]

    def pending_count(self) -> int:
        with self.lock:
            return sum(1 for record in self.push_operations.values() if record.is_pending)


def booking(record_id: str, body: dict[str, Any], base_currency: str, profile: Profile | None = None,
            tax_rates: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the ledger holds for a direct cost, in its base currency: amounts, tax, account, contact, bank.

    Codat's currencyRate is base-currency units per unit of the transaction's currency: base
    amount = amount x rate (codatio/codat-docs ``static/oas/Codat-Sync-Expenses.json``, the
    ``currencyRate`` examples). QBO takes a ``null`` rate as 1 (same description, "QuickBooks
    Online | Transaction currency differs from base currency"): a foreign-currency push without a
    rate is booked at amount x 1, the misbooking codatdesk prevents (profiles that refuse a null
    foreign rate never get here). The base currency books at 1. Xero writes a negative direct cost
    as a positive receive-money transaction (codat-docs ``xero-faq.md``): ``bookedAs`` says which.
    """
    currency = body.get("currency") or base_currency
    sent = body.get("currencyRate")
    foreign = currency != base_currency
    rate = Decimal(sent) if foreign and _is_number(sent) else Decimal(1)
    payment = (body.get("paymentAllocations") or [{}])[0].get("payment") or {}
    payment_sent = payment.get("currencyRate")
    payment_rate = Decimal(payment_sent) if foreign and _is_number(payment_sent) else Decimal(1)
    total = Decimal(body["totalAmount"])
    tax = Decimal(body["taxAmount"])
    payment_total = Decimal(payment.get("totalAmount", total))
    reversed_sign = profile is not None and profile.negative == profiles.REVERSE and total < 0
    sign = Decimal(-1) if reversed_sign else Decimal(1)
    lines = [line for line in body.get("lineItems") or [] if isinstance(line, dict)]
    contact = body.get("contactRef") if isinstance(body.get("contactRef"), dict) else {}
    bank = payment.get("accountRef") if isinstance(payment.get("accountRef"), dict) else {}
    return {
        "directCostId": record_id,
        "bookedAs": profiles.REVERSE if reversed_sign else "spend money",
        "currency": currency,
        "baseCurrency": base_currency,
        "currencyRateSent": sent,
        "rateApplied": rate,
        "nullRateBookedAsOne": foreign and sent is None,
        "totalAmount": total * sign,
        "baseTotalAmount": total * rate * sign,
        "baseTaxAmount": tax * rate * sign,
        "paymentRateApplied": payment_rate,
        "paymentBaseTotalAmount": payment_total * payment_rate * sign,
        "lines": [{
            "accountId": _ref_id(line, "accountRef"),
            "taxRateId": _ref_id(line, "taxRateRef"),
            "effectiveTaxRate": (tax_rates or {}).get(_ref_id(line, "taxRateRef") or "", {}).get("effectiveTaxRate"),
            "baseTaxAmount": Decimal(line["taxAmount"]) * rate * sign if _is_number(line.get("taxAmount")) else None,
            "baseTotalAmount": Decimal(line["totalAmount"]) * rate * sign if _is_number(line.get("totalAmount")) else None,
            "trackingCategoryIds": _tracking_ids(line),
        } for line in lines],
        "contactId": contact.get("id"),
        "bankAccountId": bank.get("id"),
    }


# -- validation ------------------------------------------------------------------------

def _item(item_id: str, message: str, validator: str) -> dict[str, Any]:
    return {"itemId": item_id, "message": message, "validatorName": validator}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def is_iso_date(value: Any) -> bool:
    """A date (YYYY-MM-DD) or an ISO date-time, as Codat's date fields take them."""
    if not isinstance(value, str):
        return False
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _tracking_ids(line: dict[str, Any]) -> list[Any]:
    tracking = line.get("tracking")
    refs = tracking.get("recordRefs") if isinstance(tracking, dict) else None
    return [item.get("id") for item in refs if isinstance(item, dict)] if isinstance(refs, list) else []


def _tracking_errors(line: dict[str, Any], prefix: str, data: CompanyData) -> list[dict[str, Any]]:
    """DirectCost.lineItems[].tracking: ``recordRefs`` is required (Codat-Accounting-2023.json); each ref names
    a tracking category of the ledger with dataType "trackingCategories" (codat-docs
    docs/expenses/sync-process/expense-transactions.md). A category with children is refused: sandbox choice
    (Xero books against a category's options, not the category)."""
    tracking = line.get("tracking")
    if tracking is None:
        return []
    refs = tracking.get("recordRefs") if isinstance(tracking, dict) else None
    if not isinstance(refs, list):
        return [_item(f"{prefix}.Tracking.RecordRefs", "Tracking.RecordRefs must be provided.", "TrackingCategory")]
    errors = []
    for index, record_ref in enumerate(refs):
        where = f"{prefix}.Tracking.RecordRefs[{index}]"
        ref_id = record_ref.get("id") if isinstance(record_ref, dict) else record_ref
        category = data.tracking_categories.get(ref_id) if isinstance(ref_id, str) else None
        if category is None or not isinstance(record_ref, dict) or record_ref.get("dataType") != "trackingCategories":
            errors.append(_item(f"{where}.Id", f"No tracking category was found with ID {ref_id}.", "TrackingCategory"))
        elif category.get("hasChildren"):
            errors.append(_item(f"{where}.Id", f"Tracking category {category['id']} has sub-categories: "
                                               "choose one of them.", "TrackingCategory"))
    return errors


def _ref_id(container: Any, key: str) -> Any:
    ref_value = container.get(key) if isinstance(container, dict) else None
    return ref_value.get("id") if isinstance(ref_value, dict) else None


def evaluate_direct_cost(body: Any, data: CompanyData) -> list[dict[str, Any]]:
    validator = "DirectCost"
    if not isinstance(body, dict):
        return [_item("DirectCost", "The request body must be a JSON object.", validator)]
    errors: list[dict[str, Any]] = []
    for name in READ_ONLY_FIELDS:
        if name in body:
            errors.append(_item(name[0].upper() + name[1:], f"{name} is read-only and must not be sent.", validator))
    if "issueDate" not in body or body["issueDate"] is None:
        errors.append(_item("IssueDate", "IssueDate must be provided.", validator))
    elif not is_iso_date(body["issueDate"]):
        errors.append(_item("IssueDate", f"IssueDate {body['issueDate']!r} is not an ISO 8601 date.", validator))
    currency = body.get("currency")
    if currency is None:
        errors.append(_item("Currency", "Currency must be provided.", validator))
    elif not isinstance(currency, str) or not _CURRENCY.match(currency):
        errors.append(_item("Currency", f"Currency {currency!r} is not a valid ISO 4217 code.", validator))
    errors.extend(_rate_errors(body.get("currencyRate"), "CurrencyRate", validator))
    totals_ok = True
    for name in ("subTotal", "taxAmount", "totalAmount"):
        label = name[0].upper() + name[1:]
        if name not in body or body[name] is None:
            errors.append(_item(label, f"{label} must be provided.", validator))
            totals_ok = False
        elif not _is_number(body[name]):
            errors.append(_item(label, f"{label} must be a number.", validator))
            totals_ok = False
    if totals_ok and body["subTotal"] + body["taxAmount"] != body["totalAmount"]:
        errors.append(_item(
            "TotalAmount",
            f"TotalAmount {body['totalAmount']} must equal SubTotal {body['subTotal']} + TaxAmount {body['taxAmount']}.",
            validator,
        ))
    contact_id = _ref_id(body, "contactRef")
    if "contactRef" in body and body["contactRef"] is not None:
        contact_type = body["contactRef"].get("dataType") if isinstance(body["contactRef"], dict) else None
        if not contact_id:
            errors.append(_item("ContactRef.Id", "ContactRef.Id must be provided.", "Contact"))
        elif contact_type == "customers" or contact_id not in data.suppliers:
            errors.append(_item("ContactRef.Id", f"No contact was found with ID {contact_id}.", "Contact"))
    errors.extend(_line_item_errors(body.get("lineItems"), data))
    errors.extend(_payment_errors(body.get("paymentAllocations"), data))
    return errors


def _rate_errors(rate: Any, item_id: str, validator: str) -> list[dict[str, Any]]:
    """A rate may be null (QBO then uses 1); given, it is a number > 0 (codat-docs
    ``docs/payables/sync/update-bill.md``: "Currency Rate must be greater than 0")."""
    if rate is None:
        return []
    if not _is_number(rate) or rate <= 0:
        return [_item(item_id, f"Currency Rate must be a number greater than 0, not {rate}.", validator)]
    return []


def _line_item_errors(lines: Any, data: CompanyData) -> list[dict[str, Any]]:
    validator = "DirectCost"
    if not isinstance(lines, list) or not lines:
        return [_item("LineItems", "At least one line item must be provided.", validator)]
    errors: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        prefix = f"LineItems[{index}]"
        if not isinstance(line, dict):
            errors.append(_item(prefix, "A line item must be an object.", validator))
            continue
        for name in ("quantity", "unitAmount"):
            label = name[0].upper() + name[1:]
            if not _is_number(line.get(name)):
                errors.append(_item(f"{prefix}.{label}", f"{label} must be provided as a number.", validator))
        account_id = _ref_id(line, "accountRef")
        if not account_id:
            errors.append(_item(f"{prefix}.AccountRef.Id", "AccountRef.Id must be provided.", "Account"))
        elif account_id not in data.accounts:
            errors.append(_item(f"{prefix}.AccountRef.Id", f"No account was found with ID {account_id}.", "Account"))
        tax_rate_id = _ref_id(line, "taxRateRef")
        if line.get("taxRateRef") is not None and tax_rate_id not in data.tax_rates:
            errors.append(_item(f"{prefix}.TaxRateRef.Id", f"No tax rate was found with ID {tax_rate_id}.", "TaxRate"))
        errors.extend(_tracking_errors(line, prefix, data))
    return errors


def _payment_errors(allocations: Any, data: CompanyData) -> list[dict[str, Any]]:
    validator = "DirectCost"
    if not isinstance(allocations, list) or not allocations:
        return [_item("PaymentAllocations", "At least one payment allocation must be provided.", validator)]
    errors: list[dict[str, Any]] = []
    for index, allocation in enumerate(allocations):
        prefix = f"PaymentAllocations[{index}]"
        if not isinstance(allocation, dict) or not isinstance(allocation.get("payment"), dict):
            errors.append(_item(f"{prefix}.Payment", "Payment must be provided.", validator))
            continue
        if not isinstance(allocation.get("allocation"), dict):
            errors.append(_item(f"{prefix}.Allocation", "Allocation must be provided.", validator))
        errors.extend(_rate_errors(allocation["payment"].get("currencyRate"), f"{prefix}.Payment.CurrencyRate",
                                   validator))
        account_id = _ref_id(allocation["payment"], "accountRef")
        account = data.accounts.get(account_id) if isinstance(account_id, str) else None
        if not account_id:
            errors.append(_item(f"{prefix}.Payment.AccountRef.Id", "Payment.AccountRef.Id must be provided.", "Account"))
        elif account is None:
            errors.append(_item(f"{prefix}.Payment.AccountRef.Id", f"No account was found with ID {account_id}.", "Account"))
        elif not account["isBankAccount"]:
            errors.append(_item(f"{prefix}.Payment.AccountRef.Id", f"Account {account_id} is not a bank account.", "Account"))
    return errors


def evaluate_account(body: Any, data: CompanyData) -> list[dict[str, Any]]:
    validator = "Account"
    if not isinstance(body, dict):
        return [_item("Account", "The request body must be a JSON object.", validator)]
    errors: list[dict[str, Any]] = []
    for name in READ_ONLY_FIELDS:
        if name in body:
            errors.append(_item(name[0].upper() + name[1:], f"{name} is read-only and must not be sent.", validator))
    # Required flags, lengths and categories are the profile's create model (profiles.account_errors).
    code = body.get("nominalCode")
    if code is not None and not isinstance(code, str):
        errors.append(_item("NominalCode", "NominalCode must be a string.", validator))
    elif code and any(account["nominalCode"] == code for account in data.accounts.values()):
        errors.append(_item("NominalCode", f"An account with nominal code {code} already exists.", validator))
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        errors.append(_item("Name", "Name must be provided.", validator))
    currency = body.get("currency")
    if currency is not None and (not isinstance(currency, str) or not _CURRENCY.match(currency)):
        errors.append(_item("Currency", f"Currency {currency!r} is not a valid ISO 4217 code.", validator))
    if "isBankAccount" in body and not isinstance(body["isBankAccount"], bool):
        errors.append(_item("IsBankAccount", "IsBankAccount must be true or false.", validator))
    return errors


def wants_timeout(data_type: str, body: Any) -> bool:
    """The deterministic ``[sandbox:timeout]`` hook."""
    if not isinstance(body, dict):
        return False
    fields: tuple[str, ...] = {"directCosts": ("note",), "suppliers": ("supplierName",)}.get(
        data_type, ("name", "description"))
    return any(isinstance(body.get(name), str) and TIMEOUT_HOOK in body[name] for name in fields)

