"""The push engine: local checks, dependent pushes, and sending within Codat's limits.

Rules this module keeps:
* Nothing leaves before local validation passes; each problem is reported per expense.
* An expense and its push operation key are stored in one transaction with Codat's answer.
* Each company gets one worker pool of ``push.concurrency`` threads (Codat allows
  10 concurrent requests per company); every Codat call for that company runs in it.
* Every push POST carries an ``Idempotency-Key`` stored with its ``PushAttempt`` (and the
  exact body) before it leaves. A push is only ever resent under that key: a POST whose
  answer was lost leaves an attempt of unknown outcome, which ``lost_answers`` sends again
  with the same key and bytes while Codat keeps the first answer (90 minutes), or else
  matches to Codat's push history, before the expense may be pushed again.
* An expense whose push Codat reported ``TimedOut`` (Outcome unknown) may be in the
  ledger already: only ``push(..., again_anyway=True)`` sends it again, and says so
  in its history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk import jsonmoney
from codatdesk.codat import ClientClosed, CodatClient, CodatError, CodatNotFound, PushOutcomeUnknown
from codatdesk.codat.client import new_idempotency_key
from codatdesk.engine import connections, create_models, expenses_route, prerequisites, reference, suppliers
from codatdesk.engine import currency as fx
from codatdesk.engine.created_lookup import with_record_id
from codatdesk.engine.line_items import build_line_items
from codatdesk.engine.lost_answers import OPEN_OUTCOMES, InFlight, LostAnswerRecovery, finish_attempt, has_open_attempt
from codatdesk.engine.push_check import CheckedPush, WriteCounter
from codatdesk.engine.quiet_reads import QuietReads
from codatdesk.engine.results import OperationResult, describe_failure, dumps_list
from codatdesk.engine.sync_after_push import SyncAfterBatch
from codatdesk.events import EventBus, Notice, PushProgress
from codatdesk.importer import LOCAL_COMPANY_ID, ensure_company
from codatdesk.integrations import default_timeout_minutes
from codatdesk.lines import Line
from codatdesk.machines import NOT_CHOSEN, ConnectionFact, connection_is_down
from codatdesk.money import is_known_currency
from codatdesk.routes import company_route, route_refusal
from codatdesk.states import ExpenseStatus, Trigger, sending_trigger
from codatdesk.store.connections import record_connection_fact
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status, expense_touched
from codatdesk.store.lines import line_one_tax, lines_of
from codatdesk.store.models import (
    Connection,
    Expense,
    PushAttempt,
    PushOperation,
    utcnow,
)

log = logging.getLogger(__name__)
_batch_ids = itertools.count(1)

OUTCOME_UNKNOWN_PROBLEM = (
    "Codat timed out on its last push, which may still be in the ledger (Codat: a timed-out write can "
    "land later). codatdesk keeps checking with Codat; only \u201cPush again anyway\u201d "
    "(codatdesk push --again-anyway) sends it again, at the risk of a duplicate")
AGAIN_ANYWAY_DETAIL = ("Pushed again anyway: the earlier push timed out and may also be in the ledger "
                       "(possible duplicate)")


class ProblemKind(StrEnum):
    """What kind of thing keeps an expense from being sent: callers decide by this, never by the text."""

    STATE = "state"            # already pushed, in progress, outcome unknown, gone
    FIELD = "field"            # a missing or inconsistent field of the expense
    CONNECTION = "connection"  # no accounting connection, or not Linked
    RATE = "rate"              # a foreign-currency expense without a currency rate
    REFERENCE = "reference"    # account, payment account, tax code or supplier not resolved
    MODEL = "model"            # the integration's create model refuses it
    ROUTE = "route"            # the company's push route does not take it (codatdesk/routes.py)
    SENDING = "sending"        # found while sending: cancelled, Codat refused or could not be asked


class EngineClosed(RuntimeError):
    """The engine was shut down (the app is quitting): it starts no new work."""


@dataclass(frozen=True)
class PushProblem:
    expense_id: int
    reason: str
    kind: ProblemKind = ProblemKind.SENDING


@dataclass
class PushBatch:
    id: int
    total: int
    problems: list[PushProblem] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    # Expenses that passed the checks (not in ``problems``) but were not sent, each with why.
    unsent: list[PushProblem] = field(default_factory=list)
    cancelled: bool = False
    # "Push again anyway": outcome-unknown expenses may be sent (the user accepted the duplicate risk).
    again_anyway: bool = False
    # The team server sending desktops' push requests: only rows still Push requested go (``may_send``).
    requested: bool = False
    # Several expenses: sent with allowSyncOnPushComplete=false, one sync queued when all have ended.
    bulk: bool = False
    # (connection id, status) per company as Codat answered this push's check.
    connection_states: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # The company pools' workers count into one batch at once: ``+=`` and ``append`` from several
    # threads go through these methods, under this lock.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def not_sent(self) -> int:
        with self._lock:
            return len(self.unsent)

    def count_sent(self, count: int = 1) -> None:
        with self._lock:
            self.sent += count

    def add_unsent(self, problems: Iterable[PushProblem]) -> None:
        with self._lock:
            self.unsent.extend(problems)

    def add_problems(self, problems: Iterable[PushProblem]) -> None:
        with self._lock:
            self.problems.extend(problems)

    def cancel(self) -> None:
        self.cancelled = True

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class PushEngine:
    def __init__(
        self,
        db: Engine,
        bus: EventBus,
        client: Callable[[], CodatClient],
        *,
        concurrency: int = 10,
        timeout_in_minutes: Callable[[], int | None] = lambda: None,
        connection_for: Callable[[str], str | None],
        key_stored: Callable[[str], None],
        submit_result: Callable[[str, OperationResult, Cause], None],
        resume_chain: Callable[[str], None] = lambda key: None,
        reasons_unavailable: Callable[[str, str, str], None] = lambda company_id, key, why: None,
        operation_gone: Callable[[str, str], None] = lambda company_id, key: None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.client = client
        self.concurrency = concurrency
        self.timeout_in_minutes = timeout_in_minutes
        self.connection_for = connection_for
        self.key_stored = key_stored
        self.submit_result = submit_result
        self.resume_chain = resume_chain
        self.reasons_unavailable = reasons_unavailable
        self.operation_gone = operation_gone
        # Codat answering 404 for one of our keys may be its history lagging behind the POST; after this
        # long it is taken as final and the row says what to do (our choice: the docs give no figure).
        self.gone_after = dt.timedelta(hours=1)
        # (company id, old connection, new connection): the core makes the new one the company's choice.
        self.connection_replaced: Callable[[str, dict, dict], None] = lambda company_id, old, new: None
        self.in_flight = InFlight()
        self.writes = WriteCounter(db)  # a check's answer holds while nothing was written since
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        self._closed = False
        self.warnings = QuietReads(self.fetch_details)  # a Success's warnings, read once the results pause
        self.syncs = SyncAfterBatch(self._queue_sync_soon)
        # The Expenses route (its results go to the applier: the core connects ``submit_results``).
        self.expenses = expenses_route.ExpensesRoute(self, lambda company_id, sync_id, results, cause: None)
        self.lost_answers = LostAnswerRecovery(
            db, bus, client, in_flight=self.in_flight, connection_for=connection_for, timeout_for=self.timeout_for,
            key_stored=key_stored, submit_result=submit_result, fetch_details=self.fetch_details)

    # The recovery's clocks, as tests and the crash driver tune them on the engine.
    @property
    def unknown_grace(self) -> dt.timedelta:
        return self.lost_answers.unknown_grace

    @unknown_grace.setter
    def unknown_grace(self, value: dt.timedelta) -> None:
        self.lost_answers.unknown_grace = value

    @property
    def orphan_after(self) -> dt.timedelta:
        return self.lost_answers.orphan_after

    @orphan_after.setter
    def orphan_after(self, value: dt.timedelta) -> None:
        self.lost_answers.orphan_after = value

    @property
    def idempotency_window(self) -> dt.timedelta:
        return self.lost_answers.idempotency_window

    @idempotency_window.setter
    def idempotency_window(self, value: dt.timedelta) -> None:
        self.lost_answers.idempotency_window = value

    def resolve_unknown(self, company_id: str) -> int:
        """Settle this company's pushes whose answer was lost (see ``lost_answers``)."""
        return self.lost_answers.resolve_unknown(company_id)

    def _sending(self, attempt_id: int, company_id: str, data_type: str) -> AbstractContextManager[None]:
        return self.in_flight.sending(attempt_id, company_id, data_type)

    # -- pools -------------------------------------------------------------------
    def pool(self, company_id: str) -> ThreadPoolExecutor:
        with self._pools_lock:
            if self._closed:  # a new pool now would outlive the app, its threads never joined
                raise EngineClosed("codatdesk is closing: no new Codat request is started")
            pool = self._pools.get(company_id)
            if pool is None:
                pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"codat-{company_id[:8]}")
                self._pools[company_id] = pool
            return pool

    def call(self, company_id: str, fn: Callable, *args):
        """Run one Codat request in the company's pool, so every request counts toward the limit."""
        return self.pool(company_id).submit(fn, *args).result()

    def shutdown(self) -> None:
        """Close for good: queued work is dropped, running work ends (the client's waits are
        interrupted first, by ``Core.stop``), and later work is refused with ``EngineClosed``."""
        self.warnings.close()
        with self._pools_lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- local checks -----------------------------------------------------------
    def check(self, expense_ids: list[int], *, again_anyway: bool = False,
              connection_states: dict[str, tuple[str | None, str | None]] | None = None) -> list[PushProblem]:
        """``connection_states``: filled with (connection id, status) per company as Codat said it now,
        so that a push plans with the answer its own check got instead of asking again."""
        problems: list[PushProblem] = []
        connection_states = {} if connection_states is None else connection_states
        resolvers: dict[str, reference.Resolver | None] = {}
        models: dict[str, create_models.Models] = {}
        with Session(self.db) as session:
            unknown = set(session.exec(select(PushAttempt.expense_id).where(PushAttempt.outcome.in_(OPEN_OUTCOMES))).all())
            for expense_id in expense_ids:
                expense = session.get(Expense, expense_id)
                if expense is None:
                    problems.append(PushProblem(expense_id, "this expense no longer exists", ProblemKind.STATE))
                    continue
                if expense.company_id not in connection_states:
                    connection_states[expense.company_id] = self._connection_state(expense.company_id)
                found = self._problems_of(expense, expense_id in unknown, *connection_states[expense.company_id],
                                          again_anyway=again_anyway)
                refusal = route_refusal(company_route(session, expense.company_id), expense)
                if refusal and _pushable_state(expense, expense_id in unknown, again_anyway):
                    found.append(PushProblem(expense_id, refusal, ProblemKind.ROUTE))
                rate = None
                if not found:
                    rate, missing_rate = fx.rate_to_send(session, expense)
                    if missing_rate:
                        found.append(PushProblem(expense_id, missing_rate, ProblemKind.RATE))
                if _pushable_state(expense, expense_id in unknown, again_anyway) \
                        and expense.company_id != LOCAL_COMPANY_ID:
                    # Codat's lists, once read: what would be refused or guessed is explained here,
                    # before anything is sent (a company never read is checked after its first read).
                    if expense.company_id not in resolvers:
                        resolvers[expense.company_id] = (reference.Resolver(session, expense.company_id)
                                                         if reference.has_cache(session, expense.company_id) else None)
                        models[expense.company_id] = create_models.Models.load(
                            session, expense.company_id, connection_states[expense.company_id][0])
                    resolver = resolvers[expense.company_id]
                    if expenses_route.is_expenses_route(session, expense.company_id):
                        if not found:
                            found.extend(expenses_route.problems_for(session, expense, resolvers))
                    elif resolver is not None:
                        # An empty code or name is the field checks' to report ("the supplier is missing").
                        first_tax = line_one_tax(session, expense)
                        found.extend(PushProblem(expense_id, m.problem, ProblemKind.REFERENCE)
                                     for m in resolver.explain_expense(expense, first_tax).values()
                                     if m.problem and (str(m.value or "").strip() or m.kind == "taxRate"))
                        if expense.line_count:  # lines 2.. and every line's tracking
                            found.extend(PushProblem(expense_id, p, ProblemKind.REFERENCE) for p in build_line_items(
                                expense, lines_of(session, expense), resolver.resolve(expense, first_tax), resolver,
                                _TO_BE_CREATED)[1])
                        if not found:  # the ledger's create model: what it would refuse
                            found.extend(PushProblem(expense_id, str(r), ProblemKind.MODEL) for r in model_problems(
                                expense, resolver.resolve(expense, first_tax), models[expense.company_id], rate))
                problems.extend(found)
        return problems

    def check_for_push(self, expense_ids: list[int], *, again_anyway: bool = False) -> CheckedPush:
        """``check`` for the window, the problems noted on the rows; ``push`` may take the answer back."""
        states: dict[str, tuple[str | None, str | None]] = {}
        problems = self.check(expense_ids, again_anyway=again_anyway, connection_states=states)
        self.note_problems(problems)
        return CheckedPush(frozenset(expense_ids), again_anyway, tuple(problems), states, self.writes.value)

    def _connection_state(self, company_id: str) -> tuple[str | None, str | None]:
        """(connection id, status) as Codat says now, once per company per check: a stale local
        "Unlinked" after the user relinked must not block. Codat unreachable: the stored status."""
        if company_id == LOCAL_COMPANY_ID or not self.connection_for(company_id):
            return self.connection_for(company_id), None
        try:
            status = self.verify_connection(company_id, self.connection_for(company_id))
        except Exception:  # no API key yet, a closed pool: the check still answers from the store
            log.warning("asking Codat for %s's connection failed", company_id, exc_info=True)
            status = None
        connection_id = self.connection_for(company_id)  # a replaced connection was followed
        if status is None or status.startswith("unknown"):
            with Session(self.db) as session:
                conn = session.get(Connection, connection_id)
            status = conn.status if conn else None
        return connection_id, status

    def note_problems(self, problems: list[PushProblem]) -> None:
        """A row held back for a missing rate or a reference says why on the row (``list``, the window)."""
        self._note_missing_rates(problems)
        self.record_blocked(problems)

    def record_blocked(self, problems: list[PushProblem]) -> None:
        """Reference problems found before sending are kept on the (not yet pushed) row, so ``list``
        and the details pane say why it was not sent. Not a status change: nothing was sent."""
        by_expense: dict[int, list[str]] = {}
        for p in problems:
            if p.kind in (ProblemKind.REFERENCE, ProblemKind.MODEL):
                by_expense.setdefault(p.expense_id, []).append(p.reason)
        for p in problems:  # a missing currency rate is said with them (alone, ``_note_missing_rates`` says it)
            if p.expense_id in by_expense and p.kind is ProblemKind.RATE:
                by_expense[p.expense_id].append(p.reason)
        if not by_expense:
            return
        with session_scope(self.db) as session:
            for expense_id, reasons in by_expense.items():
                expense = session.get(Expense, expense_id)
                detail = "Not sent: " + "; ".join(reasons)
                # Only a real change is written and published (the same check runs before and during a push).
                if expense is not None and ExpenseStatus(expense.status) is ExpenseStatus.NOT_PUSHED \
                        and expense.status_detail != detail:
                    expense.status_detail = detail
                    session.add(expense)
                    expense_touched(session, expense, Cause.engine("check"))

    @staticmethod
    def _problems_of(e: Expense, outcome_unknown: bool, connection_id: str | None,
                     connection_status: str | None, *, again_anyway: bool = False) -> list[PushProblem]:
        status = ExpenseStatus(e.status)
        state = None
        if status is ExpenseStatus.COMPLETE:
            state = "already in the ledger (Push complete)"
        elif status in (ExpenseStatus.IN_PROGRESS, ExpenseStatus.WAITING):
            state = f"already being pushed ({status.value})"
        elif status is ExpenseStatus.OUTCOME_UNKNOWN and not again_anyway:
            state = OUTCOME_UNKNOWN_PROBLEM
        elif again_anyway and status is not ExpenseStatus.OUTCOME_UNKNOWN:
            state = (f"\u201cPush again anyway\u201d is only for expenses whose outcome is unknown; this one is "
                     f"{status.value} (use Push)")
        elif outcome_unknown:
            state = ("an earlier push has no answer yet (or its answer was lost); Codat's push history is being "
                     "checked first")
        if state is not None:
            return [PushProblem(e.id, state, ProblemKind.STATE)]
        problems = []

        def add(kind: ProblemKind, reason: str) -> None:
            problems.append(PushProblem(e.id, reason, kind))

        if e.company_id == LOCAL_COMPANY_ID:
            add(ProblemKind.CONNECTION, "no Codat company is chosen for this expense yet (Settings > Codat)")
        for label, value in (("supplier", e.supplier_name), ("account code", e.account_code),
                             ("payment account", e.bank_account_code), ("currency", e.currency)):
            if not str(value or "").strip():
                add(ProblemKind.FIELD, f"the {label} is missing")
        if e.currency and not is_known_currency(e.currency):
            add(ProblemKind.FIELD, f"{e.currency!r} is not an ISO 4217 currency")
        if Decimal(e.net) + Decimal(e.tax) != Decimal(e.total):
            add(ProblemKind.FIELD, f"net {e.net} + tax {e.tax} does not equal total {e.total}")
        if e.company_id != LOCAL_COMPANY_ID:
            if connection_id is None:
                add(ProblemKind.CONNECTION, "the company has no accounting connection chosen (Settings > Codat)")
            elif connection_status is not None and connection_is_down(connection_status):
                add(ProblemKind.CONNECTION, f"the accounting connection is {connection_status}: reconnect it first")
        return problems

    # -- pushing -----------------------------------------------------------------
    def push(self, expense_ids: list[int], cause: Cause, *, again_anyway: bool = False,
             checked: CheckedPush | None = None, requested: bool = False) -> PushBatch:
        """Send these expenses. ``again_anyway``: send outcome-unknown ones (and only those) again,
        although the earlier push may be in the ledger: the caller has asked the user. ``checked``: the
        window's check of them, taken instead of checking again if nothing changed since (``push_check``).
        ``requested``: the team server sending desktops' requests (only rows still Push requested go)."""
        if self._closed:
            raise EngineClosed("codatdesk is closing: nothing more is pushed")
        batch = PushBatch(next(_batch_ids), total=len(expense_ids), again_anyway=again_anyway, requested=requested)
        if checked is not None and checked.holds_for(expense_ids, again_anyway, self.writes.value):
            batch.problems = [p for p in checked.problems if p.expense_id in set(expense_ids)]
            batch.connection_states.update(checked.connection_states)
        else:
            batch.problems = self.check(expense_ids, again_anyway=again_anyway,
                                        connection_states=batch.connection_states)
            self.note_problems(batch.problems)
        blocked = {p.expense_id for p in batch.problems}
        ready = [i for i in expense_ids if i not in blocked]
        batch.bulk = len(ready) > 1
        if batch.bulk:
            self.syncs.open(batch.id)
        thread = threading.Thread(target=self._run_batch, args=(batch, ready, cause),
                                  name=f"push-batch-{batch.id}", daemon=True)
        thread.start()
        return batch

    def _run_batch(self, batch: PushBatch, ready: list[int], cause: Cause) -> None:
        done = len(batch.problems)
        self._progress(batch, done, "checking the connection")
        by_company: dict[str, list[int]] = {}
        try:
            with Session(self.db) as session:
                for expense_id in ready:
                    by_company.setdefault(session.get(Expense, expense_id).company_id, []).append(expense_id)
            futures: list[Future] = []
            for company_id, ids in by_company.items():
                try:
                    with Session(self.db) as session:
                        on_expenses = expenses_route.is_expenses_route(session, company_id)
                    plan = self.expenses.plan if on_expenses else self._plan_company
                    futures.extend(plan(batch, company_id, ids, cause))
                except Exception as exc:  # one company's planning must not stop the others
                    log.exception("planning the push of company %s failed", company_id)
                    self._not_planned(batch, ids, f"Not sent: preparing the push failed ({exc}); push again")
            for future in futures:
                future.result()
                done += 1
                self._progress(batch, done, f"{batch.sent} sent")
        except Exception as exc:  # the batch must end and say why, whatever happened
            log.exception("push batch %s failed", batch.id)
            self.bus.publish(Notice("error", f"Pushing stopped: {exc}", topic="push"))
        finally:
            self.syncs.close(batch.id)
            self._resolve_lost_answers(list(by_company))
            batch.done.set()
            message = f"{batch.sent} sent, {batch.not_sent + len(batch.problems)} not sent"
            if batch.cancelled:
                message += " (cancelled)"
            self.bus.publish(PushProgress(batch.id, batch.total, batch.total, message, finished=True))

    def push_ended(self, key: str, status: str) -> None:
        """The applier committed a final status for ``key``: a bulk batch may now queue its sync."""
        self.syncs.ended(key, status)

    def _queue_sync_soon(self, company_id: str, data_type: str) -> None:
        def work() -> None:
            try:
                self.client().queue_sync(company_id, data_type)
            except CodatError as exc:  # Codat's next scheduled sync reads the records instead
                log.warning("could not queue a sync of %s for %s: %s", data_type, company_id, exc)

        try:
            self.pool(company_id).submit(work)
        except RuntimeError:  # shutting down
            pass

    def timeout_for(self, session: Session, connection_id: str) -> int | None:
        """``timeoutInMinutes``: the user's setting, else a default for on-premise ledgers."""
        conn = session.get(Connection, connection_id) if connection_id else None
        return default_timeout_minutes(conn.integration_key if conn else None, self.timeout_in_minutes())

    def _resolve_lost_answers(self, company_ids: list[str]) -> None:
        """Answers lost during a batch are looked up in Codat's history once its pushes are no longer in flight."""
        with Session(self.db) as session:
            companies = set(session.exec(select(PushAttempt.company_id).where(
                PushAttempt.outcome == "unknown", PushAttempt.company_id.in_(company_ids))).all())
        for company_id in companies:
            try:
                self.pool(company_id).submit(self.resolve_unknown, company_id)
            except RuntimeError:  # shutting down: reconciliation does it at the next start
                pass

    def _not_planned(self, batch: PushBatch, ids: list[int], reason: str,
                     kind: ProblemKind = ProblemKind.SENDING) -> None:
        """Rows that could not be planned: the batch reports them and each row says why."""
        batch.add_problems(PushProblem(expense_id, reason, kind) for expense_id in ids)
        with session_scope(self.db) as session:
            for expense_id in ids:
                expense = session.get(Expense, expense_id)
                if expense is not None and ExpenseStatus(expense.status).can_push and expense.status_detail != reason:
                    expense.status_detail = reason
                    session.add(expense)
                    expense_touched(session, expense, Cause.engine("plan"))

    def _note_missing_rates(self, problems: list[PushProblem]) -> None:
        """A row held back for a missing currency rate says why on the row (``list``, the window)."""
        missing = [p for p in problems if p.kind is ProblemKind.RATE]
        if not missing:
            return
        with session_scope(self.db) as session:
            for problem in missing:
                expense = session.get(Expense, problem.expense_id)
                if expense is not None and ExpenseStatus(expense.status).can_push \
                        and expense.status_detail != problem.reason:
                    expense.status_detail = problem.reason
                    session.add(expense)
                    expense_touched(session, expense, Cause.engine("rate"))

    def _progress(self, batch: PushBatch, done: int, message: str) -> None:
        self.bus.publish(PushProgress(batch.id, min(done, batch.total), batch.total, message))

    def _plan_company(self, batch: PushBatch, company_id: str, ids: list[int], cause: Cause) -> list[Future]:
        # This push's own check asked Codat a moment ago: a Linked answer for the same connection stands.
        checked = batch.connection_states.get(company_id)
        if checked is not None and checked[1] == "Linked" and checked[0] == self.connection_for(company_id):
            status = "Linked"
        else:
            status = self.verify_connection(company_id, self.connection_for(company_id))
        connection_id = self.connection_for(company_id)  # after a replaced connection was followed
        if status != "Linked":
            for expense_id in ids:
                batch.add_problems([PushProblem(expense_id, f"the accounting connection is {status}: reconnect it",
                                                ProblemKind.CONNECTION)])
            return []
        client = self.client()
        with Session(self.db) as session:
            # The base currency is read with the reference data; a cache from before it was read is refreshed.
            cached = reference.has_cache(session, company_id) and fx.base_currency_read(session, company_id) \
                and create_models.is_fresh(session, company_id, connection_id)  # a day old, or another connection
        if not cached:
            try:
                self.call(company_id, reference.refresh, self.db, client, company_id, connection_id)
            except Exception as exc:  # nothing here may stop the batch: these rows say why instead
                log.warning("reading Codat's reference lists for %s failed", company_id, exc_info=True)
                detail = exc.message if isinstance(exc, CodatError) else f"{type(exc).__name__}: {exc}"
                self._not_planned(batch, ids, f"Codat's accounts, suppliers and tax rates could not be read "
                                              f"({detail}); nothing was sent: push again")
                return []
        missing_rates = {}
        if not cached:  # ``check`` ran on these lists already; only a fresh read can change its answer
            with Session(self.db) as session:
                for expense_id in ids:
                    _rate, missing_rate = fx.rate_to_send(session, session.get(Expense, expense_id))
                    if missing_rate:
                        missing_rates[expense_id] = missing_rate
        if missing_rates:  # nothing of these leaves: QuickBooks Online would book them at a rate of 1
            for expense_id, reason in missing_rates.items():
                self._not_planned(batch, [expense_id], reason, ProblemKind.RATE)
            ids = [i for i in ids if i not in missing_rates]
        with Session(self.db) as session:
            resolver = reference.Resolver(session, company_id)
            models = create_models.Models.load(session, company_id, connection_id)
            plans = {}
            supplier_names: dict[int, str] = {}
            for expense_id in ids:
                expense = session.get(Expense, expense_id)
                assert expense is not None  # claimed above: a claimed expense is not deleted
                res = resolver.resolve(expense, line_one_tax(session, expense))
                # What the ledger's create model would refuse is not sent either: ``check`` (run by ``push``)
                # judged these on the models read then; only a fresh read can change its answer (and
                # ``build_direct_cost`` checks the body once more).
                if not res.problems and not cached:
                    res = dataclasses.replace(res, problems=tuple(model_problems(
                        expense, res, models, fx.rate_to_send(session, expense)[0])))
                plans[expense_id] = (res, expense.account_code, expense.account_name, expense.currency)
                supplier_names[expense_id] = expense.supplier_name
        direct: list[int] = []
        needs_account: dict[str, list[int]] = {}
        needs_supplier: dict[str, list[int]] = {}
        for expense_id, (res, code, _name, _currency) in plans.items():
            if res.problems:
                blocked = [PushProblem(expense_id, str(p), ProblemKind.MODEL if isinstance(p, create_models.ModelProblem)
                                       else ProblemKind.REFERENCE) for p in res.problems]
                batch.add_problems(blocked)
                self.record_blocked(blocked)
            elif res.supplier_needs_creation:
                needs_supplier.setdefault(supplier_names[expense_id], []).append(expense_id)
            elif res.account_needs_creation:
                needs_account.setdefault(code, []).append(expense_id)
            else:
                direct.append(expense_id)
        futures = [self.pool(company_id).submit(self._send_direct_cost, batch, company_id, connection_id, i, cause,
                                                resolver=resolver, models=models)
                   for i in direct]
        for code, dependents in needs_account.items():
            _, _, name, currency = plans[dependents[0]]
            futures.append(self.pool(company_id).submit(
                self._create_account_then_wait, batch, company_id, connection_id, code, name, currency,
                dependents, cause))
            # The dependents are counted by the account future (one future, several expenses).
            futures.extend(_done_future() for _ in dependents[1:])
        for name, dependents in needs_supplier.items():
            futures.append(self.pool(company_id).submit(
                suppliers.create_then_wait, self, batch, company_id, connection_id, name, dependents, cause))
            futures.extend(_done_future() for _ in dependents[1:])
        return futures

    def verify_connection(self, company_id: str, connection_id: str | None) -> str:
        """Ask Codat for the connection's state now: a platform-side disconnect may never fire a webhook."""
        if not connection_id:
            return NOT_CHOSEN
        asked_at = utcnow()  # the fact is as old as the question: a webhook generated later wins
        try:
            body = self.call(company_id, self.client().get_connection, company_id, connection_id)
        except CodatError as exc:
            if exc.status != 404:
                log.warning("connection check failed: %s", exc)
                with Session(self.db) as session:
                    conn = session.get(Connection, connection_id)
                return conn.status if conn else f"unknown ({exc.message})"
            body = {"id": connection_id, "status": "Deleted"}  # Codat no longer has it
        status = record_connection(self.db, company_id, body, asked_at)
        if connection_is_down(status):
            status = self._follow_replacement(company_id, body) or status
        return status

    def _follow_replacement(self, company_id: str, dead: dict) -> str | None:
        """The chosen connection is down or gone: switch to its replacement if Codat has one."""
        with Session(self.db) as session:
            conn = session.get(Connection, str(dead.get("id")))
            integration_key = dead.get("integrationKey") or (conn.integration_key if conn else None)
        asked_at = utcnow()
        try:
            new = self.call(company_id, connections.find_replacement, self.client(), company_id,
                            str(dead.get("id")), integration_key)
        except CodatError as exc:
            log.warning("listing %s's connections failed: %s", company_id, exc)
            return None
        if new is None:
            return None
        record_connection(self.db, company_id, new, asked_at)
        self.connection_replaced(company_id, dead, new)
        return str(new.get("status"))

    def _claim(self, session: Session, expense_id: int, *, dependent: bool,
               again_anyway: bool = False, requested: bool = False) -> Expense | None:
        # Locked (PostgreSQL: FOR UPDATE; SQLite's write transaction is exclusive already): two team
        # servers claiming the same row queue here, and the second then sees the first's attempt.
        expense = session.get(Expense, expense_id, with_for_update=True)
        if expense is None:
            return None
        status = ExpenseStatus(expense.status)
        if dependent:
            allowed = status is ExpenseStatus.WAITING
        elif again_anyway:
            allowed = status is ExpenseStatus.OUTCOME_UNKNOWN
        else:
            allowed = status.may_send(requested=requested)
        return expense if allowed else None

    def _send_direct_cost(self, batch: PushBatch | None, company_id: str, connection_id: str, expense_id: int,
                          cause: Cause, *, dependent: bool = False,
                          resolver: reference.Resolver | None = None,
                          models: create_models.Models | None = None) -> None:
        if batch is not None and batch.cancelled:
            batch.add_unsent([PushProblem(expense_id, "the push was cancelled")])
            return
        if resolver is None or models is None:
            # Loading the mappings and Codat's lists is a read: keep it out of the write transaction.
            with Session(self.db) as session:
                resolver = resolver or reference.Resolver(session, company_id)
                models = models or create_models.Models.load(session, company_id, connection_id)
        with session_scope(self.db) as session:
            expense = self._claim(session, expense_id, dependent=dependent,
                                  again_anyway=batch is not None and batch.again_anyway,
                                  requested=batch is not None and batch.requested)
            if expense is None or has_open_attempt(session, expense_id):
                if batch is not None:
                    batch.add_unsent([PushProblem(expense_id, _why_not_claimed(session, expense_id))])
                return
            rate, missing_rate = fx.rate_to_send(session, expense)
            timeout_in_minutes = self.timeout_for(session, connection_id)
            unresolved: tuple[str, str] | None = None
            if missing_rate:  # the rate table changed since planning: still nothing leaves without a rate
                expense.status_detail = missing_rate
                session.add(expense)
                expense_touched(session, expense, cause)
                unresolved = (missing_rate, ExpenseStatus(expense.status).value)
            else:
                try:
                    body = build_direct_cost(expense, resolver, currency_rate=rate, models=models,
                                             lines=lines_of(session, expense) if expense.line_count else None)
                except UnresolvedReferences as exc:
                    # Known to fail (or to be guessed): not sent. A waiting dependent fails with the reason.
                    detail = "Not sent: " + "; ".join(exc.problems)
                    if dependent:
                        change_status(session, expense, Trigger.PUSH_REJECTED, cause, detail=detail)
                    else:
                        expense.status_detail = detail
                        session.add(expense)
                        expense_touched(session, expense, cause)
                    unresolved = (detail, ExpenseStatus(expense.status).value)
            if unresolved is None:
                # The key and the exact bytes are durable before the POST leaves: a lost answer is asked
                # for again with both, even after a crash.
                attempt = PushAttempt(company_id=company_id, data_type="directCosts", expense_id=expense_id,
                                      idempotency_key=new_idempotency_key(),
                                      request_json=jsonmoney.dumps(body).decode())
                session.add(attempt)
                session.flush()
        if unresolved is not None:
            if batch is not None:
                batch.add_unsent([PushProblem(expense_id, unresolved[0])])
            return
        bulk = batch is not None and batch.bulk
        with self._sending(attempt.id, company_id, "directCosts"):
            try:
                answer = self.client().push_direct_cost(company_id, connection_id, body,
                                                        timeout_in_minutes=timeout_in_minutes,
                                                        idempotency_key=attempt.idempotency_key,
                                                        allow_sync_on_push_complete=False if bulk else None)
            except PushOutcomeUnknown as exc:
                self._outcome_unknown(attempt.id, expense_id, exc)
                if batch is not None:
                    batch.add_unsent([PushProblem(expense_id, "Codat's answer was lost; its push history "
                                                              "will be checked before it can be pushed again")])
                return
            except CodatError as exc:
                detail = self._not_accepted(attempt.id, expense_id, exc, cause)
                if batch is not None:
                    batch.add_unsent([PushProblem(expense_id, detail)])
                return
            result = OperationResult.from_push_operation(answer)
            if bulk:  # before the key is stored: its result cannot end it before it is counted
                self.syncs.sent(batch.id, company_id, "directCosts", result.key)
            with session_scope(self.db) as session:
                expense = session.get(Expense, expense_id)
                session.add(PushOperation(
                    key=result.key, company_id=company_id, connection_id=connection_id, data_type="directCosts",
                    expense_id=expense_id, status="Pending", requested_at=result.requested_at or utcnow()))
                trigger = sending_trigger(ExpenseStatus(expense.status), Trigger.PUSH_SENT)
                change_status(session, expense, trigger, cause, push_operation_key=result.key,
                              detail=AGAIN_ANYWAY_DETAIL if trigger is Trigger.PUSH_SENT_ANYWAY else None)
                finish_attempt(session, attempt.id, "sent", result.key)
            if batch is not None:
                batch.count_sent()
            self.key_stored(result.key)
            if result.is_final:  # some platforms answered synchronously
                self.submit_result(company_id, result, Cause.engine("synchronous answer"))

    def _create_account_then_wait(self, batch: PushBatch, company_id: str, connection_id: str, code: str,
                                  name: str, currency: str, dependents: list[int], cause: Cause) -> None:
        """One account push for every expense that needs account ``code``; they wait for it."""
        prerequisites.create_then_wait(self, batch, prerequisites.Prerequisite(
            company_id, connection_id, "chartOfAccounts", code, label=f"account {code} {name}",
            push=lambda waiting: self._push_account(batch, company_id, connection_id, code, name, currency,
                                                    waiting, cause),
            use_existing=lambda account_id, waiting: self._set_account_and_send(
                batch, company_id, connection_id, code, account_id, waiting, cause)), dependents, cause)

    def _push_account(self, batch: PushBatch, company_id: str, connection_id: str, code: str, name: str,
                      currency: str, dependents: list[int], cause: Cause) -> str | None:
        with Session(self.db) as session:
            plan = create_models.account_body(create_models.Models.load(session, company_id, connection_id),
                                              code, name, currency)
        if plan.body is None:  # the model changed since planning: nothing leaves that it would refuse
            self._not_planned(batch, dependents, "Not sent: " + "; ".join(plan.problems))
            return None
        body = plan.body
        with session_scope(self.db) as session:
            attempt = PushAttempt(company_id=company_id, data_type="chartOfAccounts", creates_code=code,
                                  idempotency_key=new_idempotency_key(), request_json=jsonmoney.dumps(body).decode())
            session.add(attempt)
        try:
            with self._sending(attempt.id, company_id, "chartOfAccounts"):
                answer = self.client().push_account(company_id, connection_id, body,
                                                    idempotency_key=attempt.idempotency_key)
        except CodatError as exc:
            outcome = "unknown" if isinstance(exc, PushOutcomeUnknown) else "rejected"
            rejected = outcome == "rejected" and exc.processed is False and exc.status not in (None, 429, 503)
            detail = (f"The account {code} could not be created: {_error_text(exc)}" if rejected
                      else f"Not sent: creating the account {code} did not finish ({exc.message})")
            with session_scope(self.db) as session:
                finish_attempt(session, attempt.id, outcome, None, str(exc))
                for expense_id in dependents:
                    expense = self._claim(session, expense_id, dependent=False, again_anyway=batch.again_anyway)
                    if expense is None:
                        continue
                    if rejected:
                        change_status(session, expense, Trigger.PUSH_REJECTED, cause, detail=detail)
                    else:
                        expense.status_detail = detail
                        session.add(expense)
                        expense_touched(session, expense, cause)
            batch.add_unsent(PushProblem(expense_id, detail) for expense_id in dependents)
            return None
        result = with_record_id(self.client(), company_id, code, OperationResult.from_push_operation(answer))
        with session_scope(self.db) as session:
            session.add(PushOperation(
                key=result.key, company_id=company_id, connection_id=connection_id, data_type="chartOfAccounts",
                creates_code=code, status="Pending", requested_at=result.requested_at or utcnow()))
            finish_attempt(session, attempt.id, "sent", result.key)
        if result.is_final:
            self.submit_result(company_id, result, Cause.engine("synchronous answer"))
        return result.key

    def _set_account_and_send(self, batch: PushBatch, company_id: str, connection_id: str, code: str,
                              account_id: str, dependents: list[int], cause: Cause) -> None:
        with session_scope(self.db) as session:
            for expense_id in dependents:
                expense = session.get(Expense, expense_id)
                expense.account_id = account_id
                session.add(expense)
        for expense_id in dependents:
            self._send_direct_cost(batch, company_id, connection_id, expense_id, cause)

    def push_dependents(self, expense_ids: list[int], prerequisite_key: str) -> None:
        """The prerequisite succeeded: send each waiting expense with the new id (called by the applier)."""
        with Session(self.db) as session:
            rows = [session.get(Expense, i) for i in expense_ids]
        for expense in rows:
            if expense is None:
                continue
            connection_id = self.connection_for(expense.company_id)
            self.pool(expense.company_id).submit(
                self._send_direct_cost, None, expense.company_id, connection_id, expense.id,
                Cause.engine(f"prerequisite {prerequisite_key} succeeded"), dependent=True)

    # -- failures ------------------------------------------------------------------
    def _not_accepted(self, attempt_id: int, expense_id: int, exc: CodatError, cause: Cause) -> str:
        """Record Codat's refusal of one push; returns the expense's new status detail."""
        # Credentials, limits and outages are not the expense's fault: it stays pushable.
        transient = exc.status in (None, 401, 403, 429, 503) or exc.status >= 500
        with session_scope(self.db) as session:
            finish_attempt(session, attempt_id, "not_sent" if transient else "rejected", None, str(exc))
            expense = session.get(Expense, expense_id)
            if transient:
                # Nothing reached the ledger: the row stays as it was, with the reason.
                detail = f"Not sent: {exc.message}. Push again when Codat is reachable."
                expense.status_detail = detail
                session.add(expense)
                expense_touched(session, expense, cause)
            else:
                detail = f"Codat refused the push: {_error_text(exc)}"
                change_status(session, expense, Trigger.PUSH_REJECTED, cause, detail=detail)
        return detail

    def _outcome_unknown(self, attempt_id: int, expense_id: int, exc: PushOutcomeUnknown) -> None:
        # Quitting cut the request: the attempt stays "unknown" and the next start's reconciliation asks
        # Codat under the same key (lost_answers); no new work now, the pools are shutting down.
        stopping = isinstance(exc.cause, ClientClosed)
        with session_scope(self.db) as session:
            finish_attempt(session, attempt_id, "unknown", None, str(exc))
            expense = session.get(Expense, expense_id)
            expense.status_detail = (
                "codatdesk closed before Codat answered; when it next starts it asks Codat again (same "
                "Idempotency-Key) before this expense can be pushed again." if stopping else
                "Codat's answer was lost; codatdesk asks Codat again (same Idempotency-Key) "
                "before this expense can be pushed again.")
            session.add(expense)
            expense_touched(session, expense, Cause.engine("closing" if stopping else "answer lost"))
        if not stopping:
            self.pool(exc.company_id).submit(self.resolve_unknown, exc.company_id)

    def fetch_details(self, company_id: str, key: str) -> None:
        """Failed/TimedOut webhooks carry no reasons: read them from the push operation (in the pool)."""
        def work() -> None:
            try:
                self.fetch_details_now(company_id, key)
            except CodatError:
                pass  # logged, and the row says so; reconciliation asks again

        self.pool(company_id).submit(work)

    def fetch_details_now(self, company_id: str, key: str) -> None:
        """GET the push operation and hand it to the applier (webhook follow-ups and reconciliation alike).
        When Codat cannot answer, the row is told that its reasons are not fetched yet
        (``reasons_unavailable``) and the error is raised. A 404 older than ``gone_after`` ends the
        asking (``operation_gone``); a younger one is asked about again at the next run."""
        try:
            body = self.client().get_push_operation(company_id, key)
        except CodatNotFound:
            with Session(self.db) as session:
                op = session.get(PushOperation, key)
                requested_at = op.requested_at if op is not None else None
            if requested_at is not None and utcnow() - _aware(requested_at) >= self.gone_after:
                log.warning("push operation %s is unknown to Codat; giving up on it", key)
                self.operation_gone(company_id, key)
            else:
                log.info("push operation %s is not known to Codat yet", key)
            return
        except CodatError as exc:
            log.warning("could not fetch details of push %s: %s", key, exc)
            self.reasons_unavailable(company_id, key, f"Codat answered {exc.status}" if exc.status
                                     else "Codat could not be reached")
            raise
        result = OperationResult.from_push_operation(body)
        if result.data_type in ("chartOfAccounts", "accounts", "suppliers"):
            with Session(self.db) as session:
                op = session.get(PushOperation, key)
                code = op.creates_code if op else None
            result = with_record_id(self.client(), company_id, code, result)
        self.submit_result(company_id, result, Cause.reconciliation(key))


def record_connection(db: Engine, company_id: str, body: dict, asked_at: dt.datetime) -> str:
    """Store what a GET sent at ``asked_at`` says about a connection, unless a newer fact (a webhook
    generated after it) is stored already; returns the status the store now holds."""
    errors = body.get("dataConnectionErrors")
    fact = ConnectionFact(str(body.get("id")), company_id, str(body.get("status") or ""), asked_at,
                          body.get("platformName"), body.get("integrationKey"), body.get("linkUrl"),
                          json.dumps(errors, default=str) if errors else None)
    with session_scope(db) as session:
        ensure_company(session, company_id)
        record_connection_fact(session, fact, checked=True)
        conn = session.get(Connection, fact.connection_id)
        return conn.status if conn is not None else fact.status or "unknown"


class UnresolvedReferences(ValueError):
    """An expense whose account, payment account, tax rate or supplier is not known: it is not sent."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def build_direct_cost(expense: Expense, resolver: reference.Resolver, *,
                      currency_rate: Decimal | None = None, models: create_models.Models | None = None,
                      lines: list[Line] | None = None) -> dict:
    """The directCost body Codat's Accounting API expects (amounts stay Decimal).

    Every reference is resolved or the body is not built (``UnresolvedReferences``): no ref is
    dropped (the ledger would apply a default) and no raw code is sent as an id.

    ``currency_rate`` (from :func:`codatdesk.engine.currency.rate_to_send`): base-currency units per
    one unit of the expense's currency, sent as ``currencyRate`` on the direct cost and on its
    payment; None (the base currency) leaves both out. ``models``: the connection's create models;
    a body they would refuse is not built either. ``lines``: the expense's stored lines
    (``store.lines.lines_of``) when it has any; None: its own columns are its one line."""
    res = resolver.resolve(expense, lines[0].tax if lines and len(lines) > 1 else None)
    if res.problems or not (res.account_id and res.bank_account_id and res.tax_rate_id and res.supplier_id):
        raise UnresolvedReferences(res.problems or (
            f"the account {expense.account_code} is not created in the ledger yet",))
    items = None
    if lines is not None:
        items, line_problems = build_line_items(expense, lines, res, resolver, _TO_BE_CREATED)
        if line_problems:
            raise UnresolvedReferences(tuple(line_problems))
    body = direct_cost_body(expense, res, currency_rate, items)
    problems = models.direct_cost_problems(body) if models is not None else []
    if problems:
        raise UnresolvedReferences(tuple(problems))
    return body


def direct_cost_body(expense: Expense, res: reference.Resolution, currency_rate: Decimal | None,
                     line_items: list[dict] | None = None) -> dict:
    """The body from resolved ids (a placeholder id for an account still to be created); ``line_items``
    (``engine/line_items.py``) replace the one line made of the expense's own columns."""
    issue_date = f"{expense.expense_date.isoformat()}T00:00:00"
    line: dict = {
        "description": expense.description or expense.supplier_name,
        "unitAmount": expense.net,
        "quantity": Decimal(1),
        "subTotal": expense.net,
        "taxAmount": expense.tax,
        "totalAmount": expense.total,
        "accountRef": {"id": res.account_id or _TO_BE_CREATED},
        "taxRateRef": {"id": res.tax_rate_id},
    }
    body: dict = {
        "issueDate": issue_date,
        "currency": expense.currency,
        "reference": expense.reference or None,
        "note": expense.description or None,
        "contactRef": {"id": res.supplier_id or _TO_BE_CREATED, "dataType": "suppliers"},
        "lineItems": line_items or [line],
        "paymentAllocations": [{
            "payment": {"accountRef": {"id": res.bank_account_id}, "currency": expense.currency,
                        "paidOnDate": issue_date, "totalAmount": expense.total},
            "allocation": {"currency": expense.currency, "allocatedOnDate": issue_date,
                           "totalAmount": expense.total},
        }],
        "subTotal": expense.net,
        "taxAmount": expense.tax,
        "totalAmount": expense.total,
    }
    if currency_rate is not None:
        body["currencyRate"] = currency_rate
        body["paymentAllocations"][0]["payment"]["currencyRate"] = currency_rate
    return {k: v for k, v in body.items() if v is not None}


_TO_BE_CREATED = "(to be created)"


def model_problems(expense: Expense, res: reference.Resolution, models: create_models.Models,
                   currency_rate: Decimal | None) -> list[str]:
    """What the connection's create models would refuse: the direct cost's body, and the body of an
    account or supplier that must be created first. A model not read yet says nothing here: the
    batch reads it before planning (and the prerequisite's own push checks it again)."""
    problems: list[str] = list(models.direct_cost_problems(direct_cost_body(expense, res, currency_rate)))
    if res.account_needs_creation and "chartOfAccounts" in models.by_type:
        problems.extend(create_models.account_body(models, expense.account_code, expense.account_name,
                                                   expense.currency).problems)
    if res.supplier_needs_creation and "suppliers" in models.by_type:
        problems.extend(create_models.supplier_body(models, expense.supplier_name).problems)
    if res.supplier_needs_creation and res.account_needs_creation:  # sandbox choice: one prerequisite per expense
        problems.append(f"supplier {expense.supplier_name} and account {expense.account_code} are both new: "
                        "map one of them in Mappings (or create it in the ledger and refresh), then push again")
    return problems


def _pushable_state(e: Expense, outcome_unknown: bool, again_anyway: bool) -> bool:
    status = ExpenseStatus(e.status)
    if outcome_unknown or status in (ExpenseStatus.COMPLETE, ExpenseStatus.IN_PROGRESS, ExpenseStatus.WAITING):
        return False
    return (status is ExpenseStatus.OUTCOME_UNKNOWN) == again_anyway



def _why_not_claimed(session: Session, expense_id: int) -> str:
    expense = session.get(Expense, expense_id)
    if expense is None:
        return "this expense no longer exists"
    if has_open_attempt(session, expense_id):
        return "an earlier push has no answer yet (or its answer was lost)"
    return f"its state changed before it was sent (now {ExpenseStatus(expense.status).value})"


def _error_text(exc: CodatError) -> str:
    return describe_failure("Failed", exc.message, exc.validation_errors).removeprefix("Codat rejected this expense: ")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _done_future() -> Future:
    future: Future = Future()
    future.set_result(None)
    return future


__all__ = ["ProblemKind", "PushBatch", "PushEngine", "PushProblem", "UnresolvedReferences", "build_direct_cost", "dumps_list", "record_connection"]
