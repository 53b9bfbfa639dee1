"""Updating an expense already in the ledger through the Expenses route (issue #16 §1).

Codat rewrites a synced expense transaction with ``PUT .../sync/expenses/expense-transactions/{transactionId}``
(spec ``update-expense-transaction``, body ``UpdateExpenseRequest``): Payment transactions only, on the
integrations that support it; otherwise Codat answers 422. The update starts a sync like a create, so the row
goes Push in progress under that syncId and the sync's result (webhook or reconciliation) ends it, exactly as
a push does (``expenses_route.apply_sync_results``).

The edit is saved only once Codat has taken the update: a refused update leaves the row as the ledger has it,
with the refusal in plain words on the row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from codatdesk import integrations
from codatdesk.codat import CodatError, PushOutcomeUnknown
from codatdesk.codat.expenses import ExpensesApi
from codatdesk.engine import currency as fx
from codatdesk.engine import edits, reference
from codatdesk.engine.expenses_route import (
    build_transaction,
    cached_mapping_options,
    is_expenses_route,
    mapping_problems,
)
from codatdesk.states import ExpenseStatus, Trigger
from codatdesk.store.actor import actor_of
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status, expense_touched
from codatdesk.store.lines import lines_of
from codatdesk.store.models import Connection, Expense, ExpenseSyncItem
from codatdesk.transaction_types import PLURALS

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushEngine

# spec UpdateExpenseRequest: what an update carries (no id, no reference: the path names the transaction)
UPDATE_FIELDS = ("type", "issueDate", "currency", "currencyRate", "contactRef", "bankAccountRef", "merchantName",
                 "lines", "notes")
UPDATE_SENT = "Update sent to Codat: the ledger's transaction is being rewritten"


class UpdateRefused(Exception):
    """The update was not sent, or Codat refused it: the message says why and what to do."""


def can_update_in_ledger(session: Session, expense: Expense) -> bool:
    """An edit of this expense can go to the ledger as an update (Push complete on the Expenses route)."""
    return (ExpenseStatus(expense.status) is ExpenseStatus.COMPLETE and bool(expense.transaction_id)
            and not expense.is_claim and is_expenses_route(session, expense.company_id))


def update_in_ledger(pusher: PushEngine, expense_id: int, values: dict[str, Any], cause: Cause | None = None) -> str:
    """Send the edited expense as an update of its transaction; returns the update's syncId.
    ``InvalidExpense`` (the values break a rule) or ``UpdateRefused`` (not sent, or refused): nothing saved."""
    cause = cause or Cause.user()
    with Session(pusher.db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            raise UpdateRefused("this expense no longer exists")
        if not can_update_in_ledger(session, expense):
            raise UpdateRefused(_why_not(session, expense))
        company_id, transaction_id = expense.company_id, expense.transaction_id
        assert transaction_id  # can_update_in_ledger: only an expense with its transaction id is updated
        body = _update_body(session, expense, transaction_id, values)
        ledger = _ledger_name(session, company_id)
        kind = body.get("type") or "Payment"
    api = ExpensesApi(pusher.client())
    try:
        sync_id: str = pusher.call(company_id, api.update_expense_transaction, company_id, transaction_id, body)
    except PushOutcomeUnknown:
        raise UpdateRefused(_note(pusher, expense_id, "Codat's answer to the update was lost, so it may or may not "
                                                      "be in the ledger: save the edit again to send it again")) from None
    except CodatError as exc:
        if exc.status == 422:
            what = f"updates of {PLURALS.get(kind, 'these transactions')}" if kind != "Payment" else "these updates"
            detail = f"{ledger} does not take {what} through Codat: change it in the ledger"
        else:
            detail = f"Codat refused the update ({exc.message}): the ledger keeps the earlier version"
        raise UpdateRefused(_note(pusher, expense_id, detail)) from None
    with session_scope(pusher.db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:  # deleted while the update was out: nothing left to save it on
            raise UpdateRefused("the expense was deleted while its update went to Codat: check the transaction "
                                "in the ledger")
        edits.apply_edit(session, expense, values, actor=actor_of(pusher.db))
        session.add(ExpenseSyncItem(company_id=company_id, sync_id=sync_id, transaction_id=transaction_id,
                                    expense_id=expense_id, reimbursable=False))
        change_status(session, expense, Trigger.UPDATE_SENT, cause, push_operation_key=sync_id, detail=UPDATE_SENT)
    pusher.key_stored(sync_id)  # a webhook that came first was parked: apply it now
    return sync_id


def _update_body(session: Session, expense: Expense, transaction_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The edited expense as an UpdateExpenseRequest, checked as a push checks it (nothing is written)."""
    values, lines = edits.edited_lines(session, expense, values)
    edited = Expense.model_validate({**expense.model_dump(), **{k: values[k] for k in edits.FIELDS if k in values}})
    # An edited value is resolved again, as apply_edit forgets the ids: the old account's id must not go out.
    for field_name, id_name in (("account_code", "account_id"), ("supplier_name", "supplier_id"),
                                ("bank_account_code", "bank_account_id"), ("tax_code", "tax_rate_id")):
        if field_name in values:
            setattr(edited, id_name, None)
    resolver = reference.Resolver(session, expense.company_id)
    rate, missing_rate = fx.rate_to_send(session, edited)
    if missing_rate:  # sent without a rate, the ledger would book it at 1
        raise UpdateRefused("the update was not sent: " + missing_rate)
    body, problems = build_transaction(edited, lines if lines is not None else lines_of(session, edited), resolver,
                                       transaction_id, rate)
    problems = problems or mapping_problems(body, cached_mapping_options(session, expense.company_id),
                                            reimbursable=False)
    if problems:
        raise UpdateRefused("the update was not sent: " + "; ".join(problems))
    return {k: body[k] for k in UPDATE_FIELDS if body.get(k) is not None}


def _why_not(session: Session, expense: Expense) -> str:
    if expense.is_claim:
        return ("Codat updates expense transactions only, not employee claims: change the claim in the ledger")
    if ExpenseStatus(expense.status) is not ExpenseStatus.COMPLETE or not expense.transaction_id:
        return (f"an expense that is {ExpenseStatus(expense.status).value} is not in the ledger yet: edit it and "
                "push it instead")
    return "only the Expenses route updates what is in the ledger: change it in the ledger"


def _ledger_name(session: Session, company_id: str) -> str:
    connection = session.exec(select(Connection).where(Connection.company_id == company_id)).first()
    known = integrations.KNOWN.get(connection.integration_key or "") if connection is not None else None
    return ((connection.platform_name if connection is not None else None)
            or (known.name if known is not None else "The ledger"))


def _note(pusher: PushEngine, expense_id: int, detail: str) -> str:
    """The refusal on the row (its status stays: the ledger still has the transaction as it was)."""
    with session_scope(pusher.db) as session:
        expense = session.get(Expense, expense_id)
        if expense is not None:  # None: deleted meanwhile, the message still goes to the user
            expense.status_detail = detail
            session.add(expense)
            expense_touched(session, expense, Cause.engine("expenses"))
    return detail
