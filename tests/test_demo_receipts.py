"""The demo's sample expenses come with receipts, on each push route, and pushing them uploads the receipts to the
sandbox's ledger (direct costs: the direct cost's attachment; Expenses: the completed transaction's)."""

from __future__ import annotations

import httpx
from sqlmodel import Session, select

from codatdesk import routes
from codatdesk.demo import start_demo
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Company, Expense, Receipt
from tests.conftest import wait_until

SAMPLES = [("RCPT-1001", "RCPT-1001.png", "image/png"), ("RCPT-1002", "RCPT-1002.png", "image/png"),
           ("RCPT-1005", "RCPT-1005.pdf", "application/pdf")]


def test_demo_receipts_are_attached_and_uploaded_with_their_expenses_on_each_route():
    core, cleanup = start_demo(push_delay=0.05)
    try:
        with Session(core.db) as session:
            companies = {c.push_route: c.id for c in session.exec(select(Company))}
        assert set(companies) == {routes.DIRECT_COSTS, routes.EXPENSES}
        for route, company_id in companies.items():
            with Session(core.db) as session:
                attached = session.exec(select(Expense.reference, Receipt.file_name, Receipt.media_type)
                                        .join(Receipt, Receipt.expense_id == Expense.id)
                                        .where(Expense.company_id == company_id).order_by(Expense.reference)).all()
                ids = [e.id for e in session.exec(select(Expense).where(
                    Expense.company_id == company_id, Expense.reference.in_([r for r, *_ in attached])))]
            assert [tuple(a) for a in attached] == SAMPLES, route
            assert all(len(v.path.read_bytes()) < 8000 for i in ids for v in core.receipts(i))  # small samples
            assert core.push(ids).wait(15)
            wait_until(lambda ids=ids: all(r.upload_status == "uploaded" for i in ids for r in core.receipts(i)), 20,
                       message=f"demo receipts uploaded ({route})")
            with Session(core.db) as session:
                assert {S(e.status) for e in session.exec(select(Expense).where(Expense.id.in_(ids)))} == {S.COMPLETE}
            assert in_the_ledger(core, company_id, route) == ["RCPT-1001.png", "RCPT-1002.png", "RCPT-1005.pdf"]
    finally:
        cleanup()


def in_the_ledger(core, company_id: str, route: str) -> list[str]:
    """The receipts the demo sandbox's ledger holds for the company (its steering paths, on the demo's base URL)."""
    base = core.settings.get("codat.base_url")
    if route == routes.EXPENSES:
        bookings = httpx.get(f"{base}/_sandbox/companies/{company_id}/expense-bookings").json()["results"]
        return sorted(a["fileName"] for b in bookings for a in b.get("attachments", []))
    return sorted(a["name"] for a in httpx.get(f"{base}/_sandbox/companies/{company_id}/attachments").json()["results"])
