"""Codat's reference records (accounts, bank accounts, suppliers, tax rates), cached per company,
and the matching of an expense's codes and names to them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.engine import currency
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense, Mapping, ReferenceRecord, utcnow

log = logging.getLogger(__name__)


def refresh(db: Engine, client: CodatClient, company_id: str, connection_id: str | None) -> dict[str, int]:
    """Fetch every reference list from Codat (HTTP first, then one short transaction).

    Each list holds a record once: offset paging can serve a record twice (the client already
    de-duplicates while paging; this is the store's own guard against ``uq_reference_record``),
    and a record without an id cannot be referenced, so it is left out."""
    fetched: dict[str, list[dict]] = {
        "accounts": client.list_accounts(company_id),
        "suppliers": client.list_suppliers(company_id),
        "taxRates": client.list_tax_rates(company_id),
    }
    if connection_id:
        fetched["bankAccounts"] = client.list_bank_accounts(company_id, connection_id)
    info = client.get_company_info(company_id)  # baseCurrency: which expenses need a currencyRate
    fetched = {data_type: _unique_by_id(data_type, records) for data_type, records in fetched.items()}
    with session_scope(db) as session:
        for data_type, records in fetched.items():
            session.exec(delete(ReferenceRecord).where(  # type: ignore[call-overload]
                ReferenceRecord.company_id == company_id, ReferenceRecord.data_type == data_type))
            for record in records:
                session.add(_to_row(company_id, data_type, record))
        currency.store_base_currency(session, company_id, info)
    return {data_type: len(records) for data_type, records in fetched.items()}


def _unique_by_id(data_type: str, records: list[dict]) -> list[dict]:
    unique: dict[str, dict] = {}
    for record in records:
        record_id = record.get("id") if isinstance(record, dict) else None
        if record_id in (None, ""):
            log.warning("a %s record without an id was left out of the reference data", data_type)
            continue
        unique[str(record_id)] = record  # the later copy was read later
    if len(unique) < len(records):
        log.info("%s: %d repeated or unusable record(s) left out", data_type, len(records) - len(unique))
    return list(unique.values())


def _to_row(company_id: str, data_type: str, record: dict) -> ReferenceRecord:
    if data_type == "accounts":
        code, name = record.get("nominalCode") or "", record.get("name") or ""
    elif data_type == "suppliers":
        code, name = "", record.get("supplierName") or record.get("contactName") or ""
    elif data_type == "taxRates":
        code, name = record.get("code") or "", record.get("name") or ""
    else:  # bankAccounts
        code = record.get("nominalCode") or record.get("accountNumber") or ""
        name = record.get("accountName") or record.get("name") or ""
    extra = {k: record.get(k) for k in ("isBankAccount", "status", "currency", "effectiveTaxRate", "type")
             if k in record}
    return ReferenceRecord(company_id=company_id, data_type=data_type, codat_id=str(record.get("id")),
                           code=str(code), name=str(name), extra_json=json.dumps(extra, default=str),
                           fetched_at=utcnow())


def has_cache(session: Session, company_id: str) -> bool:
    return session.exec(select(ReferenceRecord.id).where(ReferenceRecord.company_id == company_id).limit(1)).first() \
        is not None


@dataclass(frozen=True)
class Resolution:
    account_id: str | None
    account_needs_creation: bool
    bank_account_id: str | None
    tax_rate_id: str | None
    supplier_id: str | None
    problems: tuple[str, ...] = ()


class Resolver:
    """Matches codes and names against the cache and the user's mappings (loaded once per batch)."""

    def __init__(self, session: Session, company_id: str) -> None:
        self.mappings = {(m.kind, m.local_value.casefold()): m.codat_id for m in session.exec(
            select(Mapping).where(Mapping.company_id == company_id))}
        # Per data type: id, code and name (case-folded) -> Codat id. Ids win over codes, codes over names.
        self._by_id: dict[str, dict[str, str]] = {}
        self._by_code: dict[str, dict[str, str]] = {}
        self._by_name: dict[str, dict[str, str]] = {}
        for rec in session.exec(select(ReferenceRecord).where(ReferenceRecord.company_id == company_id)):
            self._by_id.setdefault(rec.data_type, {}).setdefault(rec.codat_id.casefold(), rec.codat_id)
            if rec.code:
                self._by_code.setdefault(rec.data_type, {}).setdefault(rec.code.casefold(), rec.codat_id)
            if rec.name:
                self._by_name.setdefault(rec.data_type, {}).setdefault(rec.name.casefold(), rec.codat_id)

    def _find(self, data_types: tuple[str, ...], value: str, *, by_code: bool = True) -> str | None:
        wanted = value.strip().casefold()
        if not wanted:
            return None
        for data_type in data_types:
            indexes = (self._by_id, self._by_code, self._by_name) if by_code else (self._by_id, self._by_name)
            for index in indexes:
                found = index.get(data_type, {}).get(wanted)
                if found is not None:
                    return found
        return None

    def account(self, expense: Expense) -> str | None:
        return expense.account_id or self.mappings.get(("account", expense.account_code.casefold())) \
            or self._find(("accounts",), expense.account_code)

    def bank_account(self, expense: Expense) -> str | None:
        if expense.bank_account_id:
            return expense.bank_account_id
        code = expense.bank_account_code
        return self.mappings.get(("bankAccount", code.casefold())) or self._find(("bankAccounts", "accounts"), code)

    def tax_rate(self, expense: Expense) -> str | None:
        if expense.tax_rate_id:
            return expense.tax_rate_id
        return self.mappings.get(("taxRate", expense.tax_code.casefold())) or self._find(("taxRates",), expense.tax_code)

    def supplier(self, expense: Expense) -> str | None:
        if expense.supplier_id:
            return expense.supplier_id
        return self.mappings.get(("supplier", expense.supplier_name.casefold())) \
            or self._find(("suppliers",), expense.supplier_name, by_code=False)

    def resolve(self, expense: Expense) -> Resolution:
        account_id = self.account(expense)
        problems = []
        needs_creation = False
        if account_id is None:
            if expense.account_name.strip():
                needs_creation = True
            else:
                problems.append(f"account {expense.account_code} is not in Codat's chart of accounts; "
                                "map it, or give it a name so it can be created")
        return Resolution(account_id, needs_creation, self.bank_account(expense), self.tax_rate(expense),
                          self.supplier(expense), tuple(problems))
