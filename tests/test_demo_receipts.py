"""The demo's sample expenses come with receipts, and pushing them uploads the receipts to the sandbox's ledger."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.demo import start_demo
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense, Receipt
from tests.conftest import wait_until


def test_demo_receipts_are_attached_and_uploaded_with_their_expenses():
    core, cleanup = start_demo(push_delay=0.05)
    try:
        with Session(core.db) as session:
            attached = session.exec(select(Expense.reference, Receipt.file_name, Receipt.media_type, Receipt.id)
                                    .join(Receipt, Receipt.expense_id == Expense.id).order_by(Expense.reference)).all()
            ids = [e.id for e in session.exec(select(Expense).where(Expense.reference.in_(
                [reference for reference, *_ in attached])))]
        assert [(r, n, m) for r, n, m, _ in attached] == [
            ("RCPT-1001", "RCPT-1001.png", "image/png"), ("RCPT-1002", "RCPT-1002.png", "image/png"),
            ("RCPT-1005", "RCPT-1005.pdf", "application/pdf")]
        assert all(len(v.path.read_bytes()) < 8000 for i in ids for v in core.receipts(i))  # small samples
        assert core.push(ids).wait(15)
        wait_until(lambda: all(r.upload_status == "uploaded" for i in ids for r in core.receipts(i)), 20,
                   message="demo receipts uploaded")
        with Session(core.db) as session:
            assert {S(e.status) for e in session.exec(select(Expense).where(Expense.id.in_(ids)))} == {S.COMPLETE}
        sandbox_files = store_of_demo(core)
        assert sorted(a["name"] for a in sandbox_files) == ["RCPT-1001.png", "RCPT-1002.png", "RCPT-1005.pdf"]
    finally:
        cleanup()


def store_of_demo(core) -> list[dict]:
    """The attachments in the demo sandbox's ledger (its steering path, on the base URL the demo set)."""
    import httpx

    url = f"{core.settings.get('codat.base_url')}/_sandbox/companies/{core.company_id}/attachments"
    return httpx.get(url).json()["results"]
