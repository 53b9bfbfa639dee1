"""The Expenses push route: a company's expenses go to Codat's Sync for Expenses as expense transactions.

Sources: codatio/oas ``Codat-Sync-Expenses.json`` (the "spec") and codat-docs ``docs/expenses/**``.

* Each expense is sent with its own stable uuid as the transaction id (``Expense.transaction_id``, set once):
  Codat's idempotency key (codat-docs ``docs/expenses/sync-process/expense-transactions.md``), so a resend
  of a transaction Codat already wrote is its "Duplication protection" (5080): the row is already in the
  ledger, Push complete, never a failure. That is also why a POST whose answer was lost is simply pushed
  again (no ``PushAttempt``/lost-answer recovery on this route).
* ``POST expense-transactions`` takes a bare array of 1 to 50 (spec ``CreateExpenseRequest`` maxItems);
  employee claims go to ``reimbursable-expense-transactions`` (Bills to the employee's supplier record).
* A negative expense is a ``Refund`` of positive amounts (spec ``ExpenseTransaction.type``; codat-docs
  expense-transactions.md "Transaction types"), never a negative amount.
* Before sending, each transaction is checked against the company's cached ``mappingOptions``
  (codat-docs ``docs/expenses/config-and-categorize.md``): the account's ``validFor`` the transaction type,
  the tax rate's ``validTransactionTypes``, tracking categories known and not a parent.
* The row goes Push in progress with the syncId as its key; ``expenses.sync.*`` webhooks (or reconciliation)
  make us read the sync's status and its transactions, and the applier turns each row Complete or Failed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.codat import CodatClient, CodatError, PushOutcomeUnknown
from codatdesk.codat.expenses import ExpensesApi, TransactionResult
from codatdesk.engine import currency as fx
from codatdesk.engine import reference
from codatdesk.engine.expenses_config import ensure_partner_connection
from codatdesk.engine.line_items import tracking_refs
from codatdesk.lines import Line
from codatdesk.routes import EXPENSES, company_route
from codatdesk.states import ExpenseStatus, Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status, expense_touched
from codatdesk.store.lines import lines_of
from codatdesk.store.models import CreateModel, Expense, ExpenseSyncItem, utcnow
from codatdesk.transaction_types import effective_type, sign_problem

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushBatch, PushEngine, PushProblem

log = logging.getLogger(__name__)

MAX_PER_SYNC = 50  # spec CreateExpenseRequest / ReimbursableExpenseTransactionRequest maxItems
MAPPING_OPTIONS = "expensesMappingOptions"  # CreateModel.data_type of the cached mapping options
REIMBURSABLE = "reimbursable-expense-transactions"  # spec AccountMappingInfo.validFor value of claims
ALREADY_SENT = ("Already in the ledger: Codat had written this transaction in an earlier sync and did not "
                "write it again (its duplication protection, 5080)")
LOST_ANSWER = ("Not sent for sure: Codat's answer was lost. Push again: the transaction keeps its id, so "
               "Codat will not write it twice")


# -- the mapping options cache -----------------------------------------------------------------------------

def refresh_mapping_options(db: Engine, client: CodatClient, company_id: str) -> dict[str, Any]:
    """Read the company's mapping options from Codat and cache them (``create_model``, data type
    ``expensesMappingOptions``, no connection): the checks before sending read the cache."""
    options = ExpensesApi(client).mapping_options(company_id)
    with session_scope(db) as session:
        row = session.exec(select(CreateModel).where(CreateModel.company_id == company_id,
                                                     CreateModel.data_type == MAPPING_OPTIONS)).first()
        row = row or CreateModel(company_id=company_id, connection_id="", data_type=MAPPING_OPTIONS)
        row.model_json, row.fetched_at = json.dumps(options, default=str), utcnow()
        session.add(row)
    return options


def cached_mapping_options(session: Session, company_id: str) -> dict[str, Any] | None:
    row = session.exec(select(CreateModel).where(CreateModel.company_id == company_id,
                                                 CreateModel.data_type == MAPPING_OPTIONS)).first()
    return json.loads(row.model_json) if row is not None and row.model_json else None


# -- building one transaction ------------------------------------------------------------------------------

def transaction_type(expense: Expense) -> str:
    """The type the expense names (Reward, Chargeback, ...), else its sign's: a negative expense is money
    coming back, a Refund of positive amounts (codatdesk/transaction_types.py)."""
    return effective_type(expense.transaction_type, expense.total)


def build_transaction(expense: Expense, lines: Sequence[Line], resolver: reference.Resolver, transaction_id: str,
                      currency_rate: Decimal | None) -> tuple[dict[str, Any], list[str]]:
    """The expense as an ExpenseTransaction (a claim: a reimbursable one) and what keeps it from being sent.
    Nothing is created in the ledger on this route: an unknown account or supplier is a problem to fix."""
    problems: list[str] = []
    kind = transaction_type(expense)
    sign = Decimal(-1) if Decimal(expense.total) < 0 else Decimal(1)  # Codat takes positive amounts
    named_sign = sign_problem(expense.transaction_type, (expense.total, *(a for ln in lines for a in (ln.net, ln.tax))))
    if named_sign:
        problems.append(named_sign)
    elif any(line.net * sign < 0 or line.tax * sign < 0 for line in lines):
        problems.append("a refund's lines must all be negative (and a payment's all positive): "
                        "split the expense into a payment and a refund")
    if expense.is_claim and sign < 0:
        problems.append("an employee claim is money owed to the employee, so it cannot be negative (Codat's "
                        "reimbursable expense transactions have no refund): enter the amounts as positive, or "
                        "clear the claim mark for money coming back")
    elif expense.is_claim and expense.transaction_type not in (None, "Payment"):
        problems.append(f"an employee claim is a reimbursable expense, which has no {expense.transaction_type} "
                        "type (Codat's reimbursable expense transactions): clear the type or the claim mark")
    matches = resolver.explain_expense(expense, lines[0].tax if len(lines) > 1 else None)
    body_lines = []
    for number, line in enumerate(lines, start=1):
        if number == 1:
            account, tax = matches["account"], matches["taxRate"]
        else:
            account = resolver.explain("account", line.account_code)
            tax = resolver.explain("taxRate", line.tax_code, tax=line.tax)
        if account.problem or not account.codat_id:
            problems.append(f"line {number}: " + (account.problem or
                            f"account {line.account_code} is not in the ledger; the Expenses route does not create "
                            "accounts: map it in Mappings, or add it to the ledger and refresh"))
        if tax.problem:
            problems.append(f"line {number}: {tax.problem}")
        refs, tracking_problems = tracking_refs(resolver, line.tracking, number)
        problems.extend(tracking_problems)
        item: dict[str, Any] = {"netAmount": line.net * sign, "taxAmount": line.tax * sign,
                                "accountRef": {"id": account.codat_id}}
        if tax.codat_id:
            item["taxRateRef"] = {"id": tax.codat_id}
        if refs:
            item["trackingRefs"] = refs
        if expense.is_claim:
            item["description"] = line.description or expense.description
        body_lines.append(item)
    body: dict[str, Any] = {"id": transaction_id, "issueDate": expense.expense_date.isoformat(),
                            "currency": expense.currency, "reference": expense.reference or None,
                            "notes": expense.description or None, "lines": body_lines}
    if currency_rate is not None:
        body["currencyRate"] = currency_rate
    if expense.is_claim:
        # spec create-reimbursable-expense-transaction: a Bill "against an employee (who exists as a supplier)"
        employee = resolver.explain("supplier", expense.employee)
        if employee.problem or not employee.codat_id:
            problems.append(f"the employee {expense.employee or '(none)'} is not a supplier in the ledger: a claim is "
                            "a bill to the employee's supplier record; add them as a supplier and refresh, or map "
                            "the name in Mappings")
        body["contactRef"] = {"id": employee.codat_id}
        body["dueDate"] = expense.expense_date.isoformat()  # our choice: a claim is due when it is made
    else:
        body["type"] = kind
        body["merchantName"] = expense.supplier_name
        supplier, bank = matches["supplier"], matches["bankAccount"]
        for label, match in (("supplier", supplier), ("payment account", bank)):
            if match.problem or not match.codat_id:
                problems.append(match.problem or f"the {label} {match.value} is not in the ledger; the Expenses "
                                                 "route does not create it: map it in Mappings")
        body["contactRef"] = {"id": supplier.codat_id, "type": "Supplier"}
        body["bankAccountRef"] = {"id": bank.codat_id}
    return body, problems


def mapping_problems(body: dict[str, Any], options: dict[str, Any] | None, *, reimbursable: bool) -> list[str]:
    """What Codat's mapping options say the transaction may not use (codat-docs config-and-categorize.md:
    accounts ``validFor``, tax rates ``validTransactionTypes``, tracking categories)."""
    if options is None:
        return []  # never read: checked once they are (the push reads them first)
    accounts = {a.get("id"): a for a in options.get("accounts") or []}
    tax_rates = {t.get("id"): t for t in options.get("taxRates") or []}
    tracking = {t.get("id"): t for t in options.get("trackingCategories") or []}
    kind = "Payment" if reimbursable else str(body.get("type"))
    valid_for = REIMBURSABLE if reimbursable else f"expense-transactions.{kind}"
    what = "employee claims" if reimbursable else f"{kind} transactions"
    problems = []
    for number, line in enumerate(body.get("lines") or [], start=1):
        account_id = (line.get("accountRef") or {}).get("id")
        account = accounts.get(account_id)
        if account_id and account is None:
            problems.append(f"line {number}: account {account_id} is not in Codat's Expenses mapping options: "
                            "refresh the reference data, or choose another account")
        elif account is not None and valid_for not in (account.get("validFor") or []):
            problems.append(f"line {number}: account {account.get('nominalCode') or ''} {account.get('name') or ''} "
                            f"cannot be used for {what} (Codat's mapping options): choose an account that allows it")
        tax_id = (line.get("taxRateRef") or {}).get("id")
        rate = tax_rates.get(tax_id)
        if tax_id and rate is None:
            problems.append(f"line {number}: tax rate {tax_id} is not in Codat's Expenses mapping options: "
                            "refresh the reference data, or choose another tax code")
        elif rate is not None and not reimbursable and kind not in (rate.get("validTransactionTypes") or []):
            problems.append(f"line {number}: tax rate {rate.get('name') or tax_id} cannot be used for {what} "
                            "(Codat's mapping options): choose another tax code")
        for ref in line.get("trackingRefs") or []:
            category = tracking.get(ref.get("id"))
            if category is None:
                problems.append(f"line {number}: tracking category {ref.get('id')} is not in Codat's Expenses "
                                "mapping options: refresh the reference data, or choose another one")
            elif category.get("hasChildren"):
                problems.append(f"line {number}: tracking category {category.get('name')} has sub-categories; "
                                "choose one of them")
    return problems


def expense_problems(session: Session, expense: Expense, resolver: reference.Resolver,
                     options: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(reference problems, mapping-option problems) of one expense, as the check before a push sees them."""
    rate, _missing = fx.rate_to_send(session, expense)
    body, problems = build_transaction(expense, lines_of(session, expense), resolver,
                                       expense.transaction_id or str(uuid.UUID(int=0)), rate)
    return problems, ([] if problems else mapping_problems(body, options, reimbursable=expense.is_claim))


def is_expenses_route(session: Session, company_id: str) -> bool:
    return company_route(session, company_id) == EXPENSES


# -- sending -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prepared:
    expense_id: int
    transaction_id: str
    reimbursable: bool
    body: dict[str, Any]


class ExpensesRoute:
    """Sends an Expenses-route company's expenses and reads its syncs' results (in the company's pool)."""

    def __init__(self, pusher: PushEngine, submit_results: Callable[[str, str, list[TransactionResult], Cause],
                                                                     None]) -> None:
        self.pusher = pusher
        self.db = pusher.db
        self.submit_results = submit_results

    def api(self) -> ExpensesApi:
        return ExpensesApi(self.pusher.client())

    # -- planning one company's part of a batch ---------------------------------------------------------
    def plan(self, batch: PushBatch, company_id: str, ids: list[int], cause: Cause) -> list[Future[None]]:
        from codatdesk.engine.pusher import ProblemKind, PushProblem, _done_future

        connection_id = self.pusher.connection_for(company_id)
        status = self.pusher.verify_connection(company_id, connection_id)
        if status != "Linked":
            batch.add_problems([PushProblem(i, f"the accounting connection is {status}: reconnect it",
                                            ProblemKind.CONNECTION) for i in ids])
            return []
        client = self.pusher.client()
        try:
            # Codat: "create a partner expense connection" before the first sync (sandbox: 4000 without it).
            self.pusher.call(company_id, ensure_partner_connection, client, company_id)
            with Session(self.db) as session:
                fresh = reference.has_cache(session, company_id) and fx.base_currency_read(session, company_id)
            if not fresh:
                self.pusher.call(company_id, reference.refresh, self.db, client, company_id,
                                 self.pusher.connection_for(company_id))
            options = self.pusher.call(company_id, refresh_mapping_options, self.db, client, company_id)
        except CodatError as exc:
            self.pusher._not_planned(batch, ids, f"Codat's lists or mapping options for Expenses could not be read "
                                                 f"({exc.message}); nothing was sent: push again")
            return []
        prepared, blocked = self._prepare(company_id, ids, options, requested=batch.requested)
        if blocked:
            batch.add_problems(blocked)
            self.pusher.record_blocked(blocked)
        futures: list[Future[None]] = []
        for reimbursable in (False, True):
            group = [p for p in prepared if p.reimbursable is reimbursable]
            for start in range(0, len(group), MAX_PER_SYNC):
                chunk = group[start:start + MAX_PER_SYNC]
                futures.append(self.pusher.pool(company_id).submit(self._send, batch, company_id, chunk, cause))
                futures.extend(_done_future() for _ in chunk[1:])
        return futures

    def _prepare(self, company_id: str, ids: list[int], options: dict[str, Any] | None, *,
                 requested: bool = False) -> tuple[list[Prepared], list[PushProblem]]:
        """Give each expense its transaction id once (committed before anything leaves) and build its body."""
        from codatdesk.engine.pusher import ProblemKind, PushProblem

        prepared: list[Prepared] = []
        blocked: list[PushProblem] = []
        with session_scope(self.db) as session:
            resolver = reference.Resolver(session, company_id)
            for expense_id in ids:
                expense = session.get(Expense, expense_id)
                if expense is None or not ExpenseStatus(expense.status).may_send(requested=requested):
                    continue
                if not expense.transaction_id:
                    expense.transaction_id = str(uuid.uuid4())
                    session.add(expense)
                # Asked again here: the check before the push may have run before the company's base currency
                # was read (a first push), when no rate could be found missing yet.
                rate, missing_rate = fx.rate_to_send(session, expense)
                if missing_rate:
                    blocked.append(PushProblem(expense_id, missing_rate, ProblemKind.RATE))
                    continue
                body, problems = build_transaction(expense, lines_of(session, expense), resolver,
                                                   expense.transaction_id, rate)
                if problems:
                    blocked.extend(PushProblem(expense_id, p, ProblemKind.REFERENCE) for p in problems)
                    continue
                refused = mapping_problems(body, options, reimbursable=expense.is_claim)
                if refused:
                    blocked.extend(PushProblem(expense_id, p, ProblemKind.MODEL) for p in refused)
                    continue
                prepared.append(Prepared(expense_id, expense.transaction_id, expense.is_claim, body))
        return prepared, blocked

    def _send(self, batch: PushBatch | None, company_id: str, chunk: list[Prepared], cause: Cause) -> None:
        from codatdesk.engine.pusher import PushProblem

        if batch is not None and batch.cancelled:
            batch.add_unsent([PushProblem(p.expense_id, "the push was cancelled") for p in chunk])
            return
        with Session(self.db) as session:  # another push may have sent some (or a delete removed them) meanwhile
            chunk = [p for p in chunk
                     if (expense := session.get(Expense, p.expense_id)) is not None
                     and ExpenseStatus(expense.status).may_send(requested=batch is not None and batch.requested)]
        if not chunk:
            return
        api = self.api()
        send = api.create_reimbursable_expense_transactions if chunk[0].reimbursable \
            else api.create_expense_transactions
        try:
            sync_id = send(company_id, [p.body for p in chunk])
        except PushOutcomeUnknown:
            self._note(chunk, LOST_ANSWER, batch)
            return
        except CodatError as exc:
            detail = f"Codat refused the transactions: {_codat_words(exc)}"
            with session_scope(self.db) as session:
                for p in chunk:
                    if (expense := session.get(Expense, p.expense_id)) is not None:  # None: deleted meanwhile
                        change_status(session, expense, Trigger.PUSH_REJECTED, cause, detail=detail)
            if batch is not None:
                batch.add_unsent([PushProblem(p.expense_id, detail) for p in chunk])
            return
        with session_scope(self.db) as session:
            for p in chunk:
                expense = session.get(Expense, p.expense_id)
                if expense is None:  # deleted while the request was out: no row to follow (the item's key needs one)
                    continue
                session.add(ExpenseSyncItem(company_id=company_id, sync_id=sync_id, transaction_id=p.transaction_id,
                                            expense_id=p.expense_id, reimbursable=p.reimbursable))
                change_status(session, expense, Trigger.PUSH_SENT, cause, push_operation_key=sync_id)
        if batch is not None:
            batch.count_sent(len(chunk))
        self.pusher.key_stored(sync_id)  # a webhook that came first was parked: apply it now

    def _note(self, chunk: list[Prepared], detail: str, batch: PushBatch | None) -> None:
        from codatdesk.engine.pusher import PushProblem

        with session_scope(self.db) as session:
            for p in chunk:
                expense = session.get(Expense, p.expense_id)
                if expense is None:  # deleted meanwhile: nothing to note on
                    continue
                expense.status_detail = detail
                session.add(expense)
                expense_touched(session, expense, Cause.engine("expenses"))
        if batch is not None:
            batch.add_unsent([PushProblem(p.expense_id, detail) for p in chunk])

    # -- results ------------------------------------------------------------------------------------------
    def read_sync_soon(self, company_id: str, sync_id: str, cause: Cause) -> Future[None] | None:
        """Read the sync's status and transactions in the company's pool, then hand them to the applier."""
        try:
            return self.pusher.pool(company_id).submit(self.read_sync, company_id, sync_id, cause)
        except RuntimeError:  # closing: reconciliation reads it at the next start
            return None

    def read_sync(self, company_id: str, sync_id: str, cause: Cause) -> None:
        api = self.api()
        status = api.sync_status(company_id, sync_id)
        if not status.finished:
            return  # still running: its webhook, or the next reconciliation, reads it again
        self.submit_results(company_id, sync_id, api.sync_transactions(company_id, sync_id), cause)

    def open_syncs(self, threshold_seconds: float) -> list[Future[None]]:
        """Reconciliation: read every sync with a transaction still Pending after ``threshold_seconds``
        (its webhook never came, or came while codatdesk was not running)."""
        cutoff = utcnow() - dt.timedelta(seconds=threshold_seconds)
        with Session(self.db) as session:
            syncs = session.exec(select(ExpenseSyncItem.company_id, ExpenseSyncItem.sync_id).where(
                ExpenseSyncItem.status == "Pending", ExpenseSyncItem.requested_at <= cutoff).distinct()).all()
        futures = [self.read_sync_soon(company_id, sync_id, Cause.reconciliation(sync_id))
                   for company_id, sync_id in syncs]
        return [f for f in futures if f is not None]


def apply_sync_results(session: Session, sync_id: str, results: list[TransactionResult],
                       cause: Cause) -> list[int]:
    """The applier's part: each transaction's result on its row (one transaction, the applier's). Returns the
    expenses changed. A result for a row no longer waiting on this sync changes nothing (stale)."""
    changed = []
    items = {i.transaction_id: i for i in session.exec(
        select(ExpenseSyncItem).where(ExpenseSyncItem.sync_id == sync_id)).all()}
    for result in results:
        item = items.get(result.transaction_id)
        if item is None or item.status != "Pending" or not (result.completed or result.failed):
            continue
        item.status, item.message, item.completed_at = result.status, result.message, utcnow()
        session.add(item)
        expense = session.get(Expense, item.expense_id)
        if expense is None or expense.push_operation_key != sync_id \
                or ExpenseStatus(expense.status) is not ExpenseStatus.IN_PROGRESS:
            continue
        if result.completed:
            change_status(session, expense, Trigger.RESULT_SUCCESS, cause)
        elif result.duplicate:
            change_status(session, expense, Trigger.RESULT_SUCCESS, cause, detail=ALREADY_SENT)
        else:
            detail = f"Codat: {result.message or result.status}"
            if _was_written_before(session, item):
                detail = f"Codat did not apply the update; the ledger keeps the earlier version. {detail}"
            change_status(session, expense, Trigger.RESULT_FAILED, cause, detail=detail)
        assert expense.id is not None  # read from the database by its id
        changed.append(expense.id)
        # Receipts follow on their own: the uploader hears Push complete and finds this Completed transaction
        # (receipts/uploads.py ReceiptUploader._completed_transaction).
    return changed


def _was_written_before(session: Session, item: ExpenseSyncItem) -> bool:
    """The transaction was Completed by an earlier sync: this one was an update (engine/expenses_update.py)."""
    return session.exec(select(ExpenseSyncItem.id).where(
        ExpenseSyncItem.transaction_id == item.transaction_id, ExpenseSyncItem.sync_id != item.sync_id,
        ExpenseSyncItem.status == "Completed")).first() is not None


def sync_company(session: Session, sync_id: str) -> str | None:
    """The company of a sync we sent (None: not one of ours, or not stored yet)."""
    return session.exec(select(ExpenseSyncItem.company_id).where(ExpenseSyncItem.sync_id == sync_id)).first()


def problems_for(session: Session, expense: Expense, resolvers: dict[str, reference.Resolver | None],
                 ) -> list[PushProblem]:
    """The check before a push, for an expense of an Expenses-route company (once Codat's lists were read)."""
    from codatdesk.engine.pusher import ProblemKind, PushProblem

    if expense.company_id not in resolvers:
        resolvers[expense.company_id] = (reference.Resolver(session, expense.company_id)
                                         if reference.has_cache(session, expense.company_id) else None)
    resolver = resolvers[expense.company_id]
    if resolver is None:
        return []
    refs, mapping = expense_problems(session, expense, resolver, cached_mapping_options(session, expense.company_id))
    assert expense.id is not None  # the check reads stored expenses
    return [*(PushProblem(expense.id, p, ProblemKind.REFERENCE) for p in refs),
            *(PushProblem(expense.id, p, ProblemKind.MODEL) for p in mapping)]


def _codat_words(exc: CodatError) -> str:
    """Codat's own sentence (ErrorMessage ``error``) without our request line; the whole message otherwise."""
    words = exc.body.get("error") if isinstance(exc.body, dict) else None
    return str(words) if words else exc.message
