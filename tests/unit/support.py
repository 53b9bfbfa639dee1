"""Small builders and fakes for the unit tests: a store row or two, and recorders for the seams."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from codatdesk.importer import ensure_company
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense, PushAttempt, PushOperation, utcnow

COMPANY = "co-1"
CONNECTION = "conn-1"


def add_expense(db, *, status: ExpenseStatus = ExpenseStatus.NOT_PUSHED, key: str | None = None,
                total: str = "12.50", reference: str = "R1", description: str = "Taxi") -> int:
    with session_scope(db) as session:
        company = ensure_company(session, COMPANY, "Co")
        company.connection_id = CONNECTION
        session.add(company)
        expense = Expense(company_id=COMPANY, expense_date=dt.date(2024, 3, 1), supplier_name="Cabs Ltd",
                          description=description, account_code="429", net=Decimal(total) - Decimal("2.00"),
                          tax=Decimal("2.00"), total=Decimal(total), currency="GBP", reference=reference,
                          source_key=f"src-{reference}-{total}", status=status, push_operation_key=key)
        session.add(expense)
        session.flush()
        return expense.id


def add_operation(db, key: str, expense_id: int | None, *, status: str = "Pending",
                  requested_at: dt.datetime | None = None) -> None:
    with session_scope(db) as session:
        session.add(PushOperation(key=key, company_id=COMPANY, connection_id=CONNECTION, data_type="directCosts",
                                  expense_id=expense_id, status=status, requested_at=requested_at or utcnow()))


def add_attempt(db, expense_id: int, *, outcome: str = "unknown", started_at: dt.datetime | None = None,
                finished_at: dt.datetime | None = None, key: str | None = "idem-1",
                body: str | None = '{"reference": "R1"}') -> int:
    with session_scope(db) as session:
        attempt = PushAttempt(company_id=COMPANY, data_type="directCosts", expense_id=expense_id,
                              idempotency_key=key, request_json=body, outcome=outcome,
                              started_at=started_at or utcnow(), finished_at=finished_at)
        session.add(attempt)
        session.flush()
        return attempt.id


class Recorder:
    """A callable that remembers its calls."""

    def __init__(self, answer=None) -> None:
        self.calls: list[tuple] = []
        self.answer = answer

    def __call__(self, *args):
        self.calls.append(args)
        return self.answer
