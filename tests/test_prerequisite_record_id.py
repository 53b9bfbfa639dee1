"""The new account's id comes from its own changes[] entry; a Success without it reads the push
operation, and failing that the dependents say what to do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from codatdesk.engine.applier import Applier
from codatdesk.engine.results import OperationResult
from codatdesk.events import EventBus
from codatdesk.importer import ensure_company
from codatdesk.states import ExpenseStatus as S
from codatdesk.states import Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Expense, Mapping, PushOperation

KEY = "acct-push-1"


def operation(changes, data_type="chartOfAccounts", status="Success") -> dict:
    return {"pushOperationKey": KEY, "dataType": data_type, "status": status, "changes": changes,
            "companyId": "co", "dataConnectionKey": "conn", "requestedOnUtc": "2026-11-28T10:00:00Z", "statusCode": 200}


def change(kind, record_id, data_type):
    return {"type": kind, "recordRef": {"id": record_id, "dataType": data_type}, "attachmentId": None}


def test_the_account_id_is_taken_from_the_accounts_created_entry_not_the_first():
    changes = [change("Modified", "sup-1", "suppliers"), change("AttachmentUploaded", "att-1", "chartOfAccounts"),
               change("Created", "dc-1", "directCosts"), change("Created", "acc-1", "chartOfAccounts")]
    assert OperationResult.from_push_operation(operation(changes)).record_id == "acc-1"
    assert OperationResult.from_push_operation(operation([change("Created", "acc-2", "accounts")])).record_id == "acc-2"
    assert OperationResult.from_push_operation(operation(changes, "directCosts")).record_id == "dc-1"
    assert OperationResult.from_push_operation(operation(changes[:3])).record_id is None
    assert OperationResult.from_push_operation(operation(None)).record_id is None


@pytest.fixture
def chain(db):
    """Two expenses waiting on an account push that is still Pending, and an applier with recorded follow-ups."""
    with session_scope(db) as session:
        ensure_company(session, "co", "Co")
        session.add(PushOperation(key=KEY, company_id="co", connection_id="conn", data_type="chartOfAccounts",
                                  creates_code="777"))
        ids = []
        for n in range(2):
            expense = Expense(company_id="co", expense_date=dt.date(2026, 11, 1), supplier_name="S",
                              account_code="777", account_name="Software", bank_account_code="090",
                              net=Decimal("10.00"), tax=Decimal("0.00"), total=Decimal("10.00"), currency="GBP",
                              source_key=f"k{n}")
            session.add(expense)
            session.flush()
            change_status(session, expense, Trigger.WAIT_FOR_PREREQUISITE, Cause.user(), waiting_on_key=KEY)
            ids.append(expense.id)
    fetched, released = [], []
    applier = Applier(db, EventBus(), fetch_details=lambda company, key: fetched.append((company, key)),
                      push_dependents=lambda expense_ids, key: released.append((expense_ids, key)))
    return db, ids, applier, fetched, released


def rows(db, ids):
    with Session(db) as session:
        return [session.get(Expense, i) for i in ids]


def test_a_success_without_the_id_reads_the_push_operation_then_releases_the_dependents(chain):
    db, ids, applier, fetched, released = chain
    webhook = OperationResult(key=KEY, status="Success", data_type="chartOfAccounts")  # no record, no details
    applier.apply_result("co", webhook, Cause.webhook("msg-1"))
    assert fetched == [("co", KEY)] and released == []
    assert all(S(e.status) is S.WAITING and "asking Codat for its id" in e.status_detail for e in rows(db, ids))
    read = OperationResult.from_push_operation(operation([change("Created", "acc-9", "chartOfAccounts")]))
    applier.apply_result("co", read, Cause.reconciliation(KEY))
    assert released == [(ids, KEY)]
    assert {e.account_id for e in rows(db, ids)} == {"acc-9"}
    with Session(db) as session:
        assert session.get(PushOperation, KEY).record_id == "acc-9"
        assert session.exec(select(Mapping)).one().codat_id == "acc-9"


def test_when_codat_never_gives_the_id_the_dependents_fail_with_a_way_forward(chain):
    db, ids, applier, _fetched, released = chain
    applier.apply_result("co", OperationResult(key=KEY, status="Success"), Cause.webhook("msg-1"))
    applier.apply_result("co", OperationResult.from_push_operation(operation([change("Modified", "x", "suppliers")])),
                         Cause.reconciliation(KEY))
    assert released == []
    for expense in rows(db, ids):
        assert S(expense.status) is S.FAILED
        assert "did not say its id" in expense.status_detail and "Map account 777" in expense.status_detail
        assert "push again" in expense.status_detail


def test_a_resumed_chain_whose_id_is_missing_asks_again(chain):
    """If reading the push operation failed, reconciliation's chain resume asks again."""
    db, ids, applier, fetched, _released = chain
    with session_scope(db) as session:
        op = session.get(PushOperation, KEY)
        op.status = "Success"
        session.add(op)
    applier._resume_chain(KEY)
    assert fetched == [("co", KEY)]
    assert all(S(e.status) is S.WAITING for e in rows(db, ids))


def test_the_new_record_id_is_the_created_change_of_the_pushed_type_or_the_lone_one_without_a_type():
    from codatdesk.engine.results import created_record_id

    supplier = {"type": "Modified", "recordRef": {"id": "s1", "dataType": "suppliers"}}
    account = {"type": "Created", "recordRef": {"id": "a9", "dataType": "chartOfAccounts"}}
    attachment = {"type": "Created", "recordRef": {"id": "f1", "dataType": "attachments"}}
    assert created_record_id([supplier, attachment, account], "chartOfAccounts") == "a9"
    assert created_record_id([attachment], "chartOfAccounts") is None
    assert created_record_id([{"type": "Created", "recordRef": {"id": "a7"}}], "chartOfAccounts") == "a7"
    untyped_two = [{"type": "Created", "recordRef": {"id": "x"}}, {"type": "Created", "recordRef": {"id": "y"}}]
    assert created_record_id(untyped_two, "chartOfAccounts") is None  # two candidates: not guessed
