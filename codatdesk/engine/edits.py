"""Edits a person makes by hand: manual expenses, corrections, mappings.

Core exposes them (``Core.add_expense`` and friends), so the window and any script
make the same writes; their ``ExpenseChanged`` events are published when the write commits
(``store.db.register``). ``bus`` stays in the signatures for callers; the engine's bound bus publishes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk.events import EventBus
from codatdesk.importer import ensure_company
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, expense_added, expense_touched
from codatdesk.store.models import Expense, Mapping, utcnow

EDITABLE = (ExpenseStatus.NOT_PUSHED, ExpenseStatus.FAILED)
FIELDS = ("expense_date", "supplier_name", "description", "account_code", "account_name", "bank_account_code",
          "tax_code", "net", "tax", "total", "currency", "currency_rate", "reference")


class NotEditable(Exception):
    pass


def add_expense(db: Engine, bus: EventBus | None, company_id: str, values: dict[str, Any]) -> int:
    with session_scope(db) as session:
        ensure_company(session, company_id)
        expense = Expense(company_id=company_id, source_key="manual-" + uuid.uuid4().hex,
                          **{k: values[k] for k in FIELDS if k in values})
        session.add(expense)
        session.flush()
        expense_added(session, expense, Cause.user())
        expense_id = expense.id
    return expense_id


def update_expense(db: Engine, bus: EventBus | None, expense_id: int, values: dict[str, Any]) -> None:
    """Edit an expense that is not pushed or failed (its history stays; it is not re-pushed by itself)."""
    with session_scope(db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            raise NotEditable("this expense no longer exists")
        if ExpenseStatus(expense.status) not in EDITABLE:
            raise NotEditable(f"an expense that is {ExpenseStatus(expense.status).value} cannot be edited")
        for key in FIELDS:
            if key in values:
                setattr(expense, key, values[key])
        if "account_code" in values:
            expense.account_id = None  # resolved again on the next push
        if "supplier_name" in values:
            expense.supplier_id = None
        if "bank_account_code" in values:
            expense.bank_account_id = None
        if "tax_code" in values:
            expense.tax_rate_id = None
        expense.updated_at = utcnow()
        session.add(expense)
        expense_touched(session, expense, Cause.user())


def set_mapping(db: Engine, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None:
    """Map a local value (account code, supplier name, ...) to a Codat record; ``None`` removes the mapping."""
    with session_scope(db) as session:
        existing = session.exec(select(Mapping).where(
            Mapping.company_id == company_id, Mapping.kind == kind, Mapping.local_value == local_value)).first()
        if codat_id is None:
            if existing is not None:
                session.delete(existing)
            return
        if existing is None:
            existing = Mapping(company_id=company_id, kind=kind, local_value=local_value, codat_id=codat_id)
        existing.codat_id = codat_id
        existing.updated_at = utcnow()
        session.add(existing)
