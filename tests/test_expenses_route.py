"""Issue #16 (x16d): the Expenses push route end to end against the sandbox's Sync for Expenses API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from codatdesk import integrations, routes
from codatdesk.lines import Line
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense, ExpenseSyncItem
from tests.conftest import wait_until
from tests.engine_harness import expenses, started, statuses

D = Decimal
SPLIT = [
    Line("429", D("50.00"), D("10.00"), "INPUT2", "Team lunch", ("DEPARTMENT_2",)),
    Line("493", D("30.00"), D("0.00"), "ZERORATEDINPUT", "Train", ("PROJECT_1",)),
]


def _values(**overrides) -> dict:
    return {"expense_date": dt.date(2026, 11, 3), "supplier_name": "Acme Office Supplies", "description": "Trip",
            "account_name": "General Expenses", "bank_account_code": "090", "currency": "GBP",
            "reference": "EXP-1", "lines": SPLIT, **overrides}


def _on_expenses(harness, *, listen: bool = True):
    core = harness.start_core(listen=listen)
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    return core


def _bookings(harness) -> dict[str, dict]:
    return {b["transactionId"]: b for b in harness.sandbox.expenses.bookings(harness.company_id)}


def _transaction_ids(core) -> list[str | None]:
    return [e.transaction_id for e in expenses(core)]


def test_split_lines_with_tracking_are_booked_once_as_expense_transactions(harness):
    core = _on_expenses(harness)
    first = core.add_expense(harness.company_id, _values())
    refund = core.add_expense(harness.company_id, _values(reference="EXP-2", lines=[
        Line("429", D("-10.00"), D("-2.00"), "INPUT2", "Returned chair")]))
    assert core.check_pushable([first, refund]) == []
    batch = core.push([first, refund])
    assert batch.wait(20) and batch.sent == 2, batch.unsent + batch.problems
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE] * 2, 20, message="both rows complete")
    ids = _transaction_ids(core)
    booked = _bookings(harness)
    assert set(booked) == set(ids)
    split, back = booked[ids[0]], booked[ids[1]]
    accounts = {a["id"]: a["nominalCode"] for a in harness.sandbox.state.company(harness.company_id).accounts.values()}
    assert (split["type"], split["recordType"], split["totalAmount"]) == ("Payment", "spend money", D("90.00"))
    assert [(accounts[line["accountId"]], line["netAmount"], line["taxAmount"], line["trackingIds"])
            for line in split["lines"]] == [("429", 50, 10, ["DEPARTMENT_2"]), ("493", 30, 0, ["PROJECT_1"])]
    assert (back["type"], back["recordType"], back["netAmount"], back["taxAmount"]) == ("Refund", "receive money",
                                                                                        10, 2)
    assert split["syncId"] == back["syncId"]  # one sync carried the batch
    with Session(core.db) as session:
        assert {e.push_operation_key for e in session.exec(select(Expense))} == {split["syncId"]}


def test_resending_a_batch_is_codats_duplicate_and_stays_complete(harness):
    core = _on_expenses(harness)
    expense_id = core.add_expense(harness.company_id, _values())
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="the row completes")
    (transaction_id,) = _transaction_ids(core)
    # As if Codat's answer had been lost (or the database restored from a backup): the row is sent again.
    with Session(core.db) as session:
        session.exec(update(Expense).values(status=ExpenseStatus.NOT_PUSHED))
        session.commit()
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="the resend completes")
    assert _transaction_ids(core) == [transaction_id]  # never a new id
    assert len(harness.sandbox.expenses.bookings(harness.company_id)) == 1  # written once
    (expense,) = expenses(core)
    assert expense.status_detail.startswith("Already in the ledger")


def test_a_sync_where_some_transactions_fail_turns_exactly_those_rows_red_with_codats_reasons(harness):
    core = _on_expenses(harness)
    good = core.add_expense(harness.company_id, _values())
    # Only the ledger recomputes tax from the rate: codatdesk cannot see this one coming.
    bad = core.add_expense(harness.company_id, _values(reference="EXP-BAD", lines=[
        Line("429", D("5.00"), D("0.50"), "INPUT2", "Pens", ("DEPARTMENT_1",))]))
    batch = core.push([good, bad])
    assert batch.wait(20) and batch.sent == 2
    wait_until(lambda: ExpenseStatus.IN_PROGRESS not in statuses(core), 20, message="the sync ends")
    assert statuses(core) == [ExpenseStatus.COMPLETE, ExpenseStatus.FAILED]
    assert expenses(core)[1].status_detail == ("Codat: Line 1: TaxAmount 0.50 does not match 20% (VAT on Expenses) "
                                               "on NetAmount 5.00 (expected 1.00).")
    assert list(_bookings(harness)) == [expenses(core)[0].transaction_id]


def test_reconciliation_reads_a_sync_whose_webhook_never_came(harness):
    core = _on_expenses(harness, listen=False)
    expense_id = core.add_expense(harness.company_id, _values())
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1
    harness.sandbox.wait_idle() if hasattr(harness.sandbox, "wait_idle") else None
    wait_until(lambda: _bookings(harness), 20, message="the sandbox writes it")
    assert statuses(core) == [ExpenseStatus.IN_PROGRESS]
    core.reconciler.run_once(threshold=0)
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="reconciliation completes it")


def test_an_account_the_mapping_options_do_not_allow_is_stopped_before_sending(harness):
    core = _on_expenses(harness, listen=False)
    expense_id = core.add_expense(harness.company_id, _values(lines=[Line("200", D("5.00"), D("0.00"), "ZERORATEDINPUT")]))
    problems = core.check_pushable([expense_id])
    assert [p.kind for p in problems] == ["model"], problems
    assert "cannot be used for Payment transactions (Codat's mapping options)" in problems[0].reason
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 0
    assert not harness.sandbox.expenses.bookings(harness.company_id)


@pytest.fixture
def qbo(tmp_path):
    with started(tmp_path, platform_key=integrations.QUICKBOOKS_ONLINE, push_delay=0.05, seed=1) as h:
        yield h


def test_a_claim_goes_as_a_reimbursable_expense_to_the_employee(qbo):
    core = _on_expenses(qbo)
    employee = qbo.sandbox.suppliers(qbo.company_id)[1]
    expense_id = core.add_expense(qbo.company_id, _values(is_claim=True, employee=employee["supplierName"]))
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1, batch.unsent + batch.problems
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="the claim completes")
    (booking,) = qbo.sandbox.expenses.bookings(qbo.company_id)
    assert (booking["type"], booking["recordType"], booking["contactId"]) == ("Reimbursable", "bill", employee["id"])
    with Session(core.db) as session:
        (item,) = session.exec(select(ExpenseSyncItem)).all()
        assert item.reimbursable and item.status == "Completed"


def test_the_company_configuration_is_chosen_from_codats_lists(harness):
    core = _on_expenses(harness, listen=False)
    supplier = harness.sandbox.suppliers(harness.company_id)[0]
    config = core.set_expenses_config(harness.company_id, bank_account="090", supplier=supplier["supplierName"])
    assert config.supplier_id == supplier["id"] and config.bank_account_id
    assert harness.sandbox.expenses.config(harness.company_id)["supplier"] == {"id": supplier["id"]}
    assert core.expenses_config(harness.company_id) == config
    connections = harness.sandbox.state.company(harness.company_id).connections.values()
    assert [c["sourceType"] for c in connections].count("Expense") == 1  # created once, when missing
    from codatdesk.engine.expenses_config import ConfigProblem
    with pytest.raises(ConfigProblem, match="payment account 999"):
        core.set_expenses_config(harness.company_id, bank_account="999")


def test_a_claim_on_an_integration_without_reimbursables_says_codats_refusal_on_the_row(harness):
    core = _on_expenses(harness, listen=False)  # Xero: no reimbursable expense transactions (spec)
    employee = harness.sandbox.suppliers(harness.company_id)[1]
    expense_id = core.add_expense(harness.company_id, _values(is_claim=True, employee=employee["supplierName"]))
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 0
    (expense,) = expenses(core)
    assert expense.status == ExpenseStatus.FAILED
    assert expense.status_detail == ("Codat refused the transactions: Reimbursable expense transactions are not "
                                     "supported for Xero.")


def test_the_demo_has_a_company_on_the_expenses_route_whose_rows_reach_the_ledger(tmp_path, monkeypatch):
    from codatdesk import demo, paths

    monkeypatch.setattr(paths, "data_dir", lambda: tmp_path)
    core, cleanup = demo.start_demo(push_delay=0.05)
    try:
        with Session(core.db) as session:
            from codatdesk.store.models import Company
            company = session.exec(select(Company).where(Company.name == demo.EXPENSES_COMPANY_NAME)).one()
            assert company.push_route == routes.EXPENSES
            ids = list(session.exec(select(Expense.id).where(Expense.company_id == company.id)))
        assert ids
        pushable = [i for i in ids if i not in {p.expense_id for p in core.check_pushable(ids)}]
        assert pushable
        batch = core.push(pushable)
        assert batch.wait(30) and batch.sent == len(pushable), batch.unsent + batch.problems

        def final() -> bool:
            with Session(core.db) as session:
                rows = [session.get(Expense, i) for i in pushable]
                return all(ExpenseStatus(e.status).is_final for e in rows)
        wait_until(final, 30, message="the demo's Expenses rows end")
    finally:
        cleanup()


def test_a_receipt_goes_to_the_completed_expense_transaction(harness, tmp_path):
    """Issue #16 §2: on the Expenses route the receipt is uploaded to the sync transaction once it is Completed."""
    from tests.receipt_samples import png_bytes, write

    core = _on_expenses(harness)
    expense_id = core.add_expense(harness.company_id, _values())
    core.attach_receipt(expense_id, write(tmp_path, "lunch.png", png_bytes()))
    assert core.push([expense_id]).wait(20)
    wait_until(lambda: [r.upload_status for r in core.receipts(expense_id)] == ["uploaded"], 20,
               message="the receipt uploaded")
    (transaction_id,) = _transaction_ids(core)
    assert [a["fileName"] for a in _bookings(harness)[transaction_id]["attachments"]] == ["lunch.png"]


def test_a_row_deleted_while_its_sync_waits_is_skipped_and_the_others_are_sent(harness):
    """The Expenses route leaves a row Not pushed until its sync is sent, so it can be deleted meanwhile:
    the send skips it instead of failing the whole chunk (mypy: ``session.get`` may be None)."""
    from codatdesk.store.history import Cause

    core = _on_expenses(harness)
    kept = core.add_expense(harness.company_id, _values())
    # One-line (no split rows): delete_expenses leaves an expense's lines in place, so a split row can't go.
    gone = core.add_expense(harness.company_id, _values(reference="EXP-2", lines=None, account_code="429",
                                                        tax_code="INPUT2", net=D("50.00"), tax=D("10.00"),
                                                        total=D("60.00")))
    route = core.pusher.expenses
    prepared, blocked = route._prepare(harness.company_id, [kept, gone], None)
    assert blocked == [] and len(prepared) == 2
    assert core.delete_expenses([gone]) == 1
    route._send(None, harness.company_id, prepared, Cause.user())
    assert statuses(core) == [ExpenseStatus.IN_PROGRESS]
    with Session(core.db) as session:
        assert [i.expense_id for i in session.exec(select(ExpenseSyncItem))] == [kept]
