"""Queries the window reads through ``CoreAPI`` (one place, so the real core and the test double
``tests/ui/fake_core.py`` answer alike)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk.core_api import CompanyChoice, ExpenseValues
from codatdesk.engine import edits
from codatdesk.store.db import read_session
from codatdesk.store.models import Company, Expense


def companies_to_show(db: Engine, chosen: str | None) -> list[CompanyChoice]:
    """Companies with expenses, and the chosen one, by name."""
    with read_session(db) as session:
        with_expenses = set(session.exec(select(Expense.company_id).distinct()).all())
        return [CompanyChoice(c.id, c.name) for c in session.exec(select(Company).order_by(Company.name))
                if c.id in with_expenses or c.id == chosen]


def expense_values(db: Engine, expense_id: int) -> ExpenseValues | None:
    """One expense's editable fields, for the expense dialog."""
    with read_session(db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            return None
        return ExpenseValues(id=expense_id, company_id=expense.company_id,
                             version=expense.version, updated_by=expense.updated_by,
                             **{name: getattr(expense, name) for name in edits.FIELDS})
