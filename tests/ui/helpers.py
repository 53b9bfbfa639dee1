"""Test data helpers for the UI tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal


def add_expenses(engine, company_id: str, count: int, *, start: dt.date = dt.date(2024, 3, 1),
                 status=None, connection_id: str | None = None) -> list[int]:
    """Insert ``count`` plain expenses (and the company); return their ids."""
    from codatdesk.importer import ensure_company
    from codatdesk.states import ExpenseStatus
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import Expense

    ids = []
    with session_scope(engine) as session:
        company = ensure_company(session, company_id, f"Company {company_id}")
        if connection_id:
            company.connection_id = connection_id
            session.add(company)
        for i in range(count):
            net = Decimal(10 + i) + Decimal("0.50")
            expense = Expense(
                company_id=company_id, expense_date=start + dt.timedelta(days=i % 28),
                supplier_name=f"Supplier {i:04d}", description=f"Taxi ride {i}", account_code="429",
                account_name="General Expenses", bank_account_code="090", tax_code="INPUT2",
                net=net, tax=Decimal("2.00"), total=net + Decimal("2.00"), currency="GBP",
                reference=f"R{i}", source_key=f"{company_id}-{i}-{start}",
                status=status or ExpenseStatus.NOT_PUSHED,
            )
            session.add(expense)
            ids.append(expense)
        session.flush()  # one flush for all: the ids are assigned here
        ids = [expense.id for expense in ids]
    return ids


def set_status(engine, expense_id: int, status, detail: str = "") -> None:
    """Force a status (test setup only; product code goes through the state machine)."""
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import Expense, utcnow

    with session_scope(engine) as session:
        expense = session.get(Expense, expense_id)
        expense.status = status
        expense.status_detail = detail
        expense.updated_at = utcnow()
        session.add(expense)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, message: str = "condition") -> object:
    """tests.conftest.wait_until (it processes Qt events while it polls), under its older name."""
    from tests.conftest import wait_until

    return wait_until(predicate, timeout, 0.005, message)


def dark_palette():
    """A Fusion-style dark palette, like the one Qt uses when the system is in dark mode."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2B2B2B", QPalette.ColorRole.WindowText: "#E6E6E6",
        QPalette.ColorRole.Base: "#1F1F1F", QPalette.ColorRole.AlternateBase: "#272727",
        QPalette.ColorRole.Text: "#E6E6E6", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#E6E6E6", QPalette.ColorRole.Highlight: "#2F65CA",
        QPalette.ColorRole.HighlightedText: "#FFFFFF", QPalette.ColorRole.ToolTipBase: "#353535",
        QPalette.ColorRole.ToolTipText: "#E6E6E6", QPalette.ColorRole.PlaceholderText: "#9A9A9A",
        QPalette.ColorRole.Link: "#7AB3FF", QPalette.ColorRole.Mid: "#3A3A3A", QPalette.ColorRole.Dark: "#191919",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#7A7A7A"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#7A7A7A"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#7A7A7A"))
    return p
