"""Codat's reference records (accounts, bank accounts, suppliers, tax rates), cached per company,
and the matching of an expense's codes and names to them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.codat.errors import CodatNotFound
from codatdesk.engine import create_models, currency
from codatdesk.store.db import session_scope
from codatdesk.store.models import Company, Expense, Mapping, ReferenceRecord, utcnow

log = logging.getLogger(__name__)


def refresh(db: Engine, client: CodatClient, company_id: str, connection_id: str | None) -> dict[str, int]:
    """Fetch every reference list from Codat (HTTP first, then one short transaction), and the
    connection's create models with them (``create_models.refresh``), so whatever re-reads one reads both.

    Each list holds a record once (the client de-duplicates by id while paging: offset paging can
    serve a record twice); a record without an id cannot be referenced, so it is left out."""
    fetched: dict[str, list[dict]] = {
        "accounts": client.list_accounts(company_id),
        "suppliers": client.list_suppliers(company_id),
        "taxRates": client.list_tax_rates(company_id),
        "trackingCategories": _tracking_categories(client, company_id),
    }
    if connection_id:
        fetched["bankAccounts"] = client.list_bank_accounts(company_id, connection_id)
    try:
        info = client.get_company_info(company_id)  # baseCurrency: which expenses need a currencyRate
    except CodatNotFound:  # an integration without company info: the lists still count; rates block instead
        log.warning("Codat has no company info for %s; foreign-currency expenses stay blocked", company_id)
        info = {}
    fetched = {data_type: _with_ids(data_type, records) for data_type, records in fetched.items()}
    with session_scope(db) as session:
        for data_type, records in fetched.items():
            session.exec(delete(ReferenceRecord).where(  # type: ignore[call-overload]
                ReferenceRecord.company_id == company_id, ReferenceRecord.data_type == data_type))
            for record in records:
                session.add(_to_row(company_id, data_type, record))
        currency.store_base_currency(session, company_id, info)
    if connection_id:
        create_models.refresh(db, client, company_id, connection_id)
    return {data_type: len(records) for data_type, records in fetched.items()}


def _tracking_categories(client: CodatClient, company_id: str) -> list[dict[str, Any]]:
    """A ledger without tracking categories (Codat answers 404 where the integration has none) just has none."""
    try:
        return client.list_tracking_categories(company_id)
    except CodatNotFound:
        return []


def _with_ids(data_type: str, records: list[dict]) -> list[dict]:
    """A record without an id cannot be referenced: left out. (Repeats across pages are the client's
    job: ``CodatClient._paged`` de-duplicates by id while paging.)"""
    kept = [r for r in records if isinstance(r, dict) and r.get("id") not in (None, "")]
    if len(kept) < len(records):
        log.warning("%d %s record(s) without an id left out of the reference data", len(records) - len(kept),
                    data_type)
    return kept


def _to_row(company_id: str, data_type: str, record: dict) -> ReferenceRecord:
    if data_type == "accounts":
        code, name = record.get("nominalCode") or "", record.get("name") or ""
    elif data_type == "suppliers":
        code, name = "", record.get("supplierName") or record.get("contactName") or ""
    elif data_type == "taxRates":
        code, name = record.get("code") or "", record.get("name") or ""
    elif data_type == "trackingCategories":
        code, name = "", record.get("name") or ""
    else:  # bankAccounts
        code = record.get("nominalCode") or record.get("accountNumber") or ""
        name = record.get("accountName") or record.get("name") or ""
    extra = {k: record.get(k) for k in ("isBankAccount", "status", "currency", "effectiveTaxRate", "type",
                                        "parentId", "hasChildren") if k in record}
    if isinstance(record.get("metadata"), dict) and record["metadata"].get("isDeleted"):
        extra["isDeleted"] = True
    return ReferenceRecord(company_id=company_id, data_type=data_type, codat_id=str(record.get("id")),
                           code=str(code), name=str(name), extra_json=json.dumps(extra, default=str),
                           fetched_at=utcnow())


def has_cache(session: Session, company_id: str) -> bool:
    return session.exec(select(ReferenceRecord.id).where(ReferenceRecord.company_id == company_id).limit(1)).first() \
        is not None


# -- matching ----------------------------------------------------------------------------------
# Rules (issue #12, "references are never dropped or guessed"):
# * A value matches a saved mapping first, then a record's code, then its name, and a Codat id last;
#   a code or name that two records share is ambiguous and matches neither.
# * Only active records match: status "Active", or no status/"Unknown" (the platform does not say);
#   "Archived", "Pending" and deleted records never do.
# * "Paid from" matches only an active bank account (Codat's bankAccounts, or a chart-of-accounts
#   account with isBankAccount) in the expense's currency or the company's base currency (codat-docs
#   docs/expenses/fx-management.md: no conversion between two non-base currencies, so a USD expense in
#   a GBP company is paid from a USD or a GBP account), and never by an all-digits id: on ledgers
#   with small integer ids such a value is far likelier a code that is not there than an id.
# * An unknown tax code, supplier or payment account blocks the push with a reason and a fix; nothing
#   is dropped from the body (the ledger would silently apply the account's default VAT, and Xero's
#   spend money needs a contact).
# * An empty tax code means "no tax" only when the tax amount is zero and the company has mapped
#   "no tax" (mapping kind "taxRate", local value "") to one of the integration's own rates.

NO_TAX = ""  # the local value of the "no tax" mapping: the empty tax code
KIND_LABELS = {"account": "account", "bankAccount": "payment account", "supplier": "supplier",
               "taxRate": "tax code", "tracking": "tracking category"}
_DATA_TYPES = {"account": ("accounts",), "bankAccount": ("bankAccounts", "accounts"),
               "supplier": ("suppliers",), "taxRate": ("taxRates",), "tracking": ("trackingCategories",)}
_INACTIVE_WORDS = {"archived": "archived", "pending": "pending"}

MATCHED, CREATED, BLOCKED = "matched", "created", "blocked"


@dataclass(frozen=True)
class Candidate:
    data_type: str
    codat_id: str
    code: str
    name: str
    status: str
    deleted: bool
    is_bank: bool
    currency: str

    @property
    def label(self) -> str:
        return " \u00b7 ".join(p for p in (self.code, self.name) if p) or self.codat_id

    @property
    def inactive_reason(self) -> str | None:
        if self.deleted:
            return "deleted"
        word = self.status.strip().casefold()
        return None if word in ("", "active", "unknown") else (_INACTIVE_WORDS.get(word) or word)


@dataclass(frozen=True)
class Match:
    """How one local value matched (or why it did not): what the Mapping view shows and the push uses."""

    kind: str
    value: str
    codat_id: str | None
    how: str  # "by saved mapping", "by nominal code", "by code", "by name", "by Codat id", or the reason
    label: str = ""
    outcome: str = MATCHED  # matched | created | blocked
    problem: str | None = None  # reason and fix, when blocked


def _extra(rec: ReferenceRecord) -> dict[str, Any]:
    try:
        extra = json.loads(rec.extra_json or "{}")
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}


def _candidate(rec: ReferenceRecord) -> Candidate:
    extra = _extra(rec)
    return Candidate(rec.data_type, rec.codat_id, rec.code or "", rec.name or "", str(extra.get("status") or ""),
                     bool(extra.get("isDeleted")), rec.data_type == "bankAccounts" or extra.get("isBankAccount") is True,
                     str(extra.get("currency") or "").upper())


@dataclass(frozen=True)
class Resolution:
    account_id: str | None
    account_needs_creation: bool
    bank_account_id: str | None
    tax_rate_id: str | None
    supplier_id: str | None
    problems: tuple[str, ...] = ()
    supplier_needs_creation: bool = False


class Resolver:
    """Matches codes and names against the cache and the user's mappings (loaded once per batch)."""

    def __init__(self, session: Session, company_id: str) -> None:
        self.mappings = {(m.kind, m.local_value.strip().casefold()): m.codat_id for m in session.exec(
            select(Mapping).where(Mapping.company_id == company_id))}
        self.records: dict[str, list[Candidate]] = {}
        self.base_currency = (currency.base_currency(session, company_id) or "").upper()
        company = session.get(Company, company_id)
        self.create_suppliers = bool(company and company.create_suppliers)
        self._explained: dict[tuple, Match] = {}
        self.parent_categories: dict[str, str] = {}  # tracking categories with sub-categories: id -> name
        for rec in session.exec(select(ReferenceRecord).where(ReferenceRecord.company_id == company_id)
                                .order_by(ReferenceRecord.code, ReferenceRecord.name)):
            self.records.setdefault(rec.data_type, []).append(_candidate(rec))
            if rec.data_type == "trackingCategories" and _extra(rec).get("hasChildren") is True:
                self.parent_categories[rec.codat_id] = rec.name
        # A bank account's status is its chart-of-accounts account's (Xero shares the id).
        accounts = {c.codat_id: c for c in self.records.get("accounts", [])}
        self.records["bankAccounts"] = [
            Candidate(c.data_type, c.codat_id, c.code, c.name, accounts[c.codat_id].status if c.codat_id in accounts
                      and not c.status else c.status, c.deleted or (c.codat_id in accounts and accounts[c.codat_id].deleted),
                      True, c.currency or (accounts[c.codat_id].currency if c.codat_id in accounts else ""))
            for c in self.records.get("bankAccounts", [])]

    # -- the records a kind may match ---------------------------------------------------------
    def candidates(self, kind: str, currency: str | None = None, *, active_only: bool = True) -> list[Candidate]:
        """The records a value of this kind may match (also what the Mapping view offers), one per id."""
        seen: dict[str, Candidate] = {}
        for data_type in _DATA_TYPES[kind]:
            for c in self.records.get(data_type, []):
                if kind == "bankAccount" and not c.is_bank:
                    continue
                if active_only and c.inactive_reason:
                    continue
                if kind == "bankAccount" and currency and c.currency not in self._payable_in(currency):
                    continue
                seen.setdefault(c.codat_id, c)
        return list(seen.values())

    def _payable_in(self, currency: str) -> set[str]:
        """The currencies a payment account may be in for an expense in ``currency``: its own, or the base."""
        return {c for c in (currency.upper(), self.base_currency) if c}

    def _currencies_text(self, currency: str) -> str:
        allowed = self._payable_in(currency)
        if len(allowed) == 1:
            return currency.upper()
        return f"{currency.upper()} or the company's {self.base_currency}"

    def _record(self, kind: str, codat_id: str) -> Candidate | None:
        for data_type in _DATA_TYPES[kind]:
            for c in self.records.get(data_type, []):
                if c.codat_id == codat_id and (kind != "bankAccount" or c.is_bank):
                    return c
        return None

    # -- explaining one value ------------------------------------------------------------------
    def explain(self, kind: str, value: str, *, currency: str | None = None, tax: Decimal | None = None,
                account_name: str = "") -> Match:
        """How ``value`` (an account code, payment account, supplier name or tax code) resolves, or why not.

        ``currency``: the expense's currency (payment accounts must be in it or the base currency); ``tax``: the tax amount
        (an empty tax code means "no tax" only at zero tax); ``account_name``: an unknown account with a
        name is created on push."""
        key = (kind, value.strip().casefold(), (currency or "").upper(),
               None if tax is None else Decimal(tax) == 0, bool(account_name.strip()))
        match = self._explained.get(key)
        if match is None or (kind in ("account", "supplier") and match.outcome == CREATED):
            match = self._explained[key] = self._explain(kind, value, currency=currency, tax=tax,
                                                         account_name=account_name)
        return match

    def _explain(self, kind: str, value: str, *, currency: str | None, tax: Decimal | None,
                 account_name: str) -> Match:
        what = KIND_LABELS[kind]
        wanted = value.strip().casefold()
        if kind == "taxRate" and not wanted:
            return self._explain_no_tax(tax)
        if not wanted:
            return Match(kind, value, None, f"the {what} is missing", outcome=BLOCKED,
                         problem=f"the {what} is missing")
        mapped = self.mappings.get((kind, wanted))
        if mapped:
            return self._explain_mapped(kind, value, mapped, currency)
        found = self._search(kind, value, currency)
        if found is not None:
            return found
        return self._not_found(kind, value, currency, account_name)

    def _explain_mapped(self, kind: str, value: str, mapped: str, currency: str | None) -> Match:
        what = KIND_LABELS[kind]
        record = self._record(kind, mapped)
        if record is None:
            if kind == "bankAccount":
                reason = (f"{what} {value} is mapped to {mapped}, which is not a bank account in Codat's lists: "
                          "refresh from Codat, or map it again in Mappings")
                return Match(kind, value, None, reason, mapped, BLOCKED, reason)
            return Match(kind, value, mapped, "by saved mapping (record not in the cached list yet: refresh)", mapped)
        why = self._unusable(kind, record, currency)
        if why:
            reason = f"{what} {value} is mapped to {record.label}, which is {why}: map it again in Mappings"
            return Match(kind, value, None, reason, record.label, BLOCKED, reason)
        return Match(kind, value, record.codat_id, "by saved mapping", record.label)

    def _unusable(self, kind: str, record: Candidate, currency: str | None) -> str | None:
        if record.inactive_reason:
            return record.inactive_reason
        if kind == "bankAccount" and currency and record.currency not in self._payable_in(currency):
            return f"in {record.currency or 'an unknown currency'}, not {self._currencies_text(currency)}"
        return None

    def _search(self, kind: str, value: str, currency: str | None) -> Match | None:
        wanted = value.strip().casefold()
        usable = self.candidates(kind, currency)
        code_how = "by nominal code" if kind in ("account", "bankAccount") else "by code"
        tests = [] if kind == "supplier" else [(lambda c: bool(c.code) and c.code.casefold() == wanted, code_how)]
        tests.append((lambda c: bool(c.name) and c.name.casefold() == wanted, "by name"))
        if not (kind == "bankAccount" and wanted.isdigit()):
            tests.append((lambda c: c.codat_id.casefold() == wanted, "by Codat id"))
        for test, how in tests:
            hits = [c for c in usable if test(c)]
            if len(hits) == 1:
                return Match(kind, value, hits[0].codat_id, how, hits[0].label)
            if len(hits) > 1:
                reason = (f"{KIND_LABELS[kind]} {value} matches {len(hits)} records "
                          f"({', '.join(h.label for h in hits[:3])}): map it to one in Mappings")
                return Match(kind, value, None, reason, outcome=BLOCKED, problem=reason)
        return None

    def _not_found(self, kind: str, value: str, currency: str | None, account_name: str) -> Match:
        # Would it have matched without the active/bank/currency rules? Then say which rule stopped it.
        wanted = value.strip().casefold()
        near = [c for t in _DATA_TYPES[kind] for c in self.records.get(t, [])
                if wanted in ((c.code.casefold() if kind != "supplier" else ""), c.name.casefold())]
        if kind == "account":
            if account_name.strip():
                return Match(kind, value, None, "will be created on push", f"{value} \u00b7 {account_name}",
                             CREATED)
            reason = (f"account {value} is not in Codat's chart of accounts; map it in Mappings, or give it a name "
                      "so it can be created")
        elif kind == "bankAccount":
            why = next((w for w in (self._unusable(kind, c, currency) if c.is_bank else "not a bank account"
                                    for c in near) if w), None)
            if why:
                reason = (f"payment account {value} is {why}: codatdesk pays only from an active bank account "
                          f"in the expense's currency or the company's base currency; map it to one in Mappings, "
                          f"or edit the expense")
            else:
                reason = (f"payment account {value} is not one of the ledger's active bank accounts"
                          f"{' in ' + self._currencies_text(currency) if currency else ''}: map it in Mappings, "
                          f"or edit the expense")
        elif kind == "supplier":
            why = next((c.inactive_reason for c in near if c.inactive_reason), None)
            if why is None and self.create_suppliers:
                return Match(kind, value, None, "will be created on push", value, CREATED)
            reason = (f"supplier {value} is {why} in the ledger: map it in Mappings, or edit the expense" if why else
                      f"supplier {value} is not in the ledger's suppliers: map it in Mappings, or allow codatdesk "
                      "to create suppliers for this company (codatdesk suppliers --create on)")
        elif kind == "tracking":
            why = next((c.inactive_reason for c in near if c.inactive_reason), None)
            reason = (f"tracking category {value} is {why} in the ledger" if why else
                      f"tracking category {value} is not one of the ledger's tracking categories") + \
                ": map it in Mappings, or edit the expense's line"
        else:
            why = next((c.inactive_reason for c in near if c.inactive_reason), None)
            reason = (f"tax code {value} is {why} in the ledger" if why else
                      f"tax code {value} is not in the ledger's tax rates") + ": map it in Mappings, or edit the expense"
        return Match(kind, value, None, reason, outcome=BLOCKED, problem=reason)

    def _explain_no_tax(self, tax: Decimal | None) -> Match:
        if tax is not None and Decimal(tax) != 0:
            reason = ("the expense has a tax amount but no tax code (the ledger would apply the account's default "
                      "VAT): give the expense a tax code")
            return Match("taxRate", NO_TAX, None, reason, outcome=BLOCKED, problem=reason)
        mapped = self.mappings.get(("taxRate", NO_TAX))
        if not mapped:
            reason = ("the expense has no tax code and \u201cno tax\u201d is not mapped for this company: map "
                      "\u201cno tax\u201d to the ledger's own rate in Mappings (Xero: NONE), or give the expense a "
                      "tax code")
            return Match("taxRate", NO_TAX, None, reason, outcome=BLOCKED, problem=reason)
        match = self._explain_mapped("taxRate", "(no tax code)", mapped, None)
        return Match("taxRate", NO_TAX, match.codat_id, match.how, match.label, match.outcome, match.problem)

    # -- one expense ---------------------------------------------------------------------------
    def _explicit(self, kind: str, given: str | None, expense: Expense) -> Match | None:
        """An id stored on the expense itself (an account codatdesk created); a payment account still
        has to be an active bank account in the expense's (or the base) currency."""
        if not given:
            return None
        if kind != "bankAccount":
            return Match(kind, given, given, "by Codat id", given)
        record = self._record(kind, given)
        why = "not a bank account in Codat's lists" if record is None else \
            self._unusable(kind, record, expense.currency)
        if why:
            reason = f"payment account {given} is {why}: map it in Mappings, or edit the expense"
            return Match(kind, given, None, reason, outcome=BLOCKED, problem=reason)
        return Match(kind, given, given, "by Codat id", record.label)

    def explain_expense(self, expense: Expense, line_one_tax: Decimal | None = None) -> dict[str, Match]:
        """The expense's references; its tax code is its first line's. ``line_one_tax``: a split expense's first
        line's tax, the amount the "tax but no tax code" rule is about (the expense's own is every line's: a split
        whose line 1 is untaxed but line 2 taxed was refused). None: the expense is its one line."""
        tax = expense.tax if line_one_tax is None else line_one_tax
        return {
            "account": self._explicit("account", expense.account_id, expense) or self.explain(
                "account", expense.account_code, account_name=expense.account_name),
            "bankAccount": self._explicit("bankAccount", expense.bank_account_id, expense) or self.explain(
                "bankAccount", expense.bank_account_code, currency=expense.currency),
            "taxRate": self._explicit("taxRate", expense.tax_rate_id, expense) or self.explain(
                "taxRate", expense.tax_code, tax=tax),
            "supplier": self._explicit("supplier", expense.supplier_id, expense) or self.explain(
                "supplier", expense.supplier_name),
        }

    def resolve(self, expense: Expense, line_one_tax: Decimal | None = None) -> Resolution:
        matches = self.explain_expense(expense, line_one_tax)
        problems = tuple(m.problem for m in matches.values() if m.problem)
        return Resolution(matches["account"].codat_id, matches["account"].outcome == CREATED,
                          matches["bankAccount"].codat_id, matches["taxRate"].codat_id,
                          matches["supplier"].codat_id, problems, matches["supplier"].outcome == CREATED)
