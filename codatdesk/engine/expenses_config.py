"""A company's Sync for Expenses set-up: its partner expense connection and its configuration.

Codat (codat-api-notes §5.1; codat-docs ``docs/expenses/configure-customer.md``): a company on Expenses has two
connections, the accounting one and an Expense (partner) one, created with
``POST .../sync/expenses/connections/partnerExpense`` (no body, created Linked). Its configuration
(``GET``/``POST .../sync/expenses/config``) holds the defaults a transaction without its own bank account or
supplier falls back to (codat-docs ``docs/expenses/config-and-categorize.md``); all three objects are required
in the POST (spec ``CompanyConfiguration``), so a value not given keeps the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from codatdesk.codat import CodatClient
from codatdesk.codat.expenses import ExpensesApi
from codatdesk.engine import reference


@dataclass(frozen=True)
class ExpensesConfig:
    bank_account_id: str | None
    supplier_id: str | None
    customer_id: str | None
    bank_account_label: str = ""
    supplier_label: str = ""


class ConfigProblem(ValueError):
    """A value that is not in Codat's lists: the message names it and the fix."""


def ensure_partner_connection(client: CodatClient, company_id: str) -> dict[str, Any]:
    """The company's Expense connection: the existing one, else a new one."""
    for connection in client.list_connections(company_id):
        if connection.get("sourceType") == "Expense" and connection.get("status") != "Deleted":
            return connection
    return ExpensesApi(client).create_partner_connection(company_id)


def read_config(db: Engine, client: CodatClient, company_id: str) -> ExpensesConfig:
    body = ExpensesApi(client).get_config(company_id)
    return _labelled(db, company_id, *(_id(body, name) for name in ("bankAccount", "supplier", "customer")))


def set_config(db: Engine, client: CodatClient, company_id: str, bank_account: str | None, supplier: str | None,
               customer: str | None) -> ExpensesConfig:
    """Resolve each value against Codat's lists (a nominal code, a supplier name, or an id) and save."""
    api = ExpensesApi(client)
    ensure_partner_connection(client, company_id)
    with Session(db) as session:
        if not reference.has_cache(session, company_id):
            raise ConfigProblem("Codat's lists of this company were never read: refresh the reference data first")
        resolver = reference.Resolver(session, company_id)
        bank_id = _resolve(resolver, "bankAccount", bank_account)
        supplier_id = _resolve(resolver, "supplier", supplier)
    current = api.get_config(company_id)
    saved = api.set_config(company_id, bank_account_id=bank_id or _id(current, "bankAccount"),
                           supplier_id=supplier_id or _id(current, "supplier"),
                           customer_id=customer or _id(current, "customer"))
    return _labelled(db, company_id, *(_id(saved, name) for name in ("bankAccount", "supplier", "customer")))


def _resolve(resolver: reference.Resolver, kind: str, value: str | None) -> str | None:
    if not value:
        return None
    match = resolver.explain(kind, value)
    if match.problem or not match.codat_id or match.outcome == reference.CREATED:
        label = reference.KIND_LABELS.get(kind, kind)
        raise ConfigProblem(match.problem or f"the {label} {value} is not in Codat's lists: choose one the ledger has "
                                             "(refresh the reference data if it was added lately)")
    return match.codat_id


def _id(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value.get("id") if isinstance(value, dict) else None


def _labelled(db: Engine, company_id: str, bank_id: str | None, supplier_id: str | None,
              customer_id: str | None) -> ExpensesConfig:
    with Session(db) as session:
        resolver = reference.Resolver(session, company_id)
        bank = resolver.explain("bankAccount", bank_id) if bank_id else None
        supplier = resolver.explain("supplier", supplier_id) if supplier_id else None
    return ExpensesConfig(bank_id, supplier_id, customer_id, bank.label if bank else "", supplier.label if supplier else "")
