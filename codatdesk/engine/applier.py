"""The applier: the one thread that applies Codat's answers to the store.

Inputs, all through one queue so they are applied in order by one writer:
inbox rows stored by the listener, results fetched by reconciliation, and the
news that the pusher stored a new push key (which releases parked deliveries).
Every status change goes through :func:`codatdesk.store.history.change_status`.
HTTP never happens here: follow-up work (fetching Codat's validation errors,
pushing the dependents of a prerequisite) is handed to callbacks.

Its commits are not fsynced one by one (``durable=False``): every input can be
derived again after a power cut (inbox rows still ``pending`` are re-applied at
start, reconciliation asks Codat again, parked rows are swept), and the next durable
commit (an inbox insert, a push) flushes them to disk in order anyway.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from codatdesk.engine import expenses_route
from codatdesk.engine.connections import ACCOUNTING
from codatdesk.engine.results import (
    FETCHING_REASONS,
    UNKNOWN_TO_CODAT,
    OperationResult,
    describe_failure,
    describe_warnings,
    dumps_list,
    outcome_unknown_detail,
)
from codatdesk.events import DeliveriesDropped, DeliveryRecorded, EventBus, Notice
from codatdesk.machines import (
    OPERATION,
    ConnectionFact,
    OperationStatus,
    set_operation_status,
    set_verdict,
)
from codatdesk.states import RESULT_TRIGGERS, ExpenseStatus, Trigger, can_apply
from codatdesk.store.connections import FactApplied, record_connection_fact
from codatdesk.store.db import register, session_scope
from codatdesk.store.history import Cause, change_status, expense_touched
from codatdesk.store.models import (
    Connection,
    Expense,
    Mapping,
    PushOperation,
    StatusChange,
    WebhookDelivery,
    utcnow,
)
from codatdesk.webhooks import (
    ConnectionEvent,
    IgnoredEvent,
    UnusableEvent,
    WriteResult,
    parse_event,
    scope,
)
from codatdesk.webhooks.parse import Event as ParsedEvent
from codatdesk.webhooks.parse import ExpensesSyncEvent

log = logging.getLogger(__name__)
SELFTEST_EVENT = "codatdesk.selftest"


@dataclass
class Outcome:
    """What one application did, for the verdict and for the follow-ups after commit."""

    verdict: str
    detail: str = ""
    expense_ids: list[int] = field(default_factory=list)
    company_id: str | None = None
    fetch_details_for: list[tuple[str, str]] = field(default_factory=list)  # (company_id, key)
    warnings_to_read: list[tuple[str, str]] = field(default_factory=list)  # (company_id, key) of a Success
    syncs_to_read: list[tuple[str, str, Cause]] = field(default_factory=list)  # Expenses route (company, syncId)
    dependents_ready: list[tuple[list[int], str]] = field(default_factory=list)  # (expense ids, prerequisite key)
    reconnected: bool = False  # also: a connection appeared or went away (the chosen one may be replaced)
    ended: list[tuple[str, str]] = field(default_factory=list)  # (key, final status) of pushes that just ended

    def snapshot(self, session: Session, cause: Cause) -> None:
        """Register the affected expenses whose status did not change (a status change registered
        itself) for publishing after the commit (identity-map hits: no extra query)."""
        for expense_id in dict.fromkeys(self.expense_ids):
            expense = session.get(Expense, expense_id)
            if expense is not None:
                expense_touched(session, expense, cause)


class Applier:
    def __init__(
        self,
        db: Engine,
        bus: EventBus,
        *,
        fetch_details: Callable[[str, str], None] | None = None,
        push_dependents: Callable[[list[int], str], None] | None = None,
        on_reconnected: Callable[[str], None] | None = None,
        on_selftest: Callable[[str], None] | None = None,
        push_ended: Callable[[str, str], None] | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.fetch_details = fetch_details or (lambda company_id, key: None)
        # A Success's warnings: read at once (fetch_details) unless the core lets them wait for a pause
        # (engine/quiet_reads.py).
        self.read_warnings_later: Callable[[str, str], None] | None = None
        self.push_dependents = push_dependents or (lambda ids, key: None)
        self.on_reconnected = on_reconnected or (lambda company_id: None)
        self.on_selftest = on_selftest or (lambda delivery_id: None)
        self.push_ended = push_ended or (lambda key, status: None)
        # Expenses route: read an ended sync's transactions (HTTP, in the company's pool); the core connects it.
        # Returns whatever the reader gives back (its Future, or None): the applier never waits on it.
        self.read_expense_sync: Callable[[str, str, Cause], object] = lambda company_id, sync_id, cause: None
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0
        self._parked_keys: set[str] = set()  # keys with parked deliveries (applier thread only)
        self._dropped_companies: set[str] = set()  # companies already named in a notice (applier thread only)

    # -- queue -----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="applier", daemon=True)
        self._thread.start()
        self.enqueue_unapplied()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._put(None)
        self._thread.join(timeout)
        self._thread = None

    def enqueue_delivery(self, row_id: int) -> None:
        self._put(("delivery", row_id))

    def submit_result(self, company_id: str, result: OperationResult, cause: Cause) -> None:
        self._put(("result", company_id, result, cause))

    def submit_expense_results(self, company_id: str, sync_id: str, results: list, cause: Cause) -> None:
        """An Expenses sync's transactions as Codat reports them (``expenses_route.read_sync``)."""
        self._put(("expense_results", sync_id, results, cause))

    def reasons_unavailable(self, company_id: str, key: str, why: str) -> None:
        """Fetching Codat's reasons for a Failed operation failed: the rows must not keep saying
        "fetching…" (reconciliation and every start fetch them again until they arrive)."""
        self._put(("no_reasons", key, why))

    def operation_gone(self, company_id: str, key: str) -> None:
        """Codat answers 404 for ``key`` long after it was sent: stop asking, and say so on the rows."""
        self._put(("gone", key))

    def key_stored(self, key: str) -> None:
        """The pusher committed ``key``: deliveries parked for it can be applied now."""
        self._put(("key", key))

    def enqueue_unapplied(self) -> None:
        """On start: every stored delivery not yet applied (the process may have died in between)."""
        with Session(self.db) as session:
            self._parked_keys.update(key for key in session.exec(
                select(WebhookDelivery.push_operation_key).where(WebhookDelivery.verdict == "parked").distinct()
            ).all() if key)
            ids = session.exec(
                select(WebhookDelivery.id).where(WebhookDelivery.verdict == "pending").order_by(WebhookDelivery.id)
            ).all()
            # Parked before codatdesk knew which companies it serves: applied again, they are dropped.
            foreign = [row.id for row in session.exec(
                select(WebhookDelivery).where(WebhookDelivery.verdict == "parked")).all()
                if not scope.is_served(session, row.company_id)]
        for row_id in [*ids, *foreign]:
            self.enqueue_delivery(row_id)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _put(self, item) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    BATCH = 64  # deliveries applied in one transaction when they queue up

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.PARKED_SWEEP_SECONDS)
            except queue.Empty:
                try:
                    self._sweep_parked()
                except SQLAlchemyError as exc:  # a team database out of reach: the next sweep tries again
                    log.warning("parked deliveries not swept: %s", exc)
                continue
            items = [item]
            # Deliveries that queued up while we were busy share one transaction (one write
            # lock, one commit); any other item ends the run, so the order is kept.
            while item is not None and item[0] == "delivery" and len(items) < self.BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
            try:
                deliveries = [i[1] for i in items if i is not None and i[0] == "delivery"]
                if len(deliveries) > 1:
                    try:
                        self.apply_deliveries(deliveries)
                    except Exception:
                        log.exception("applying %d deliveries together failed; applying them one by one",
                                      len(deliveries))
                        for row_id in deliveries:
                            self._dispatch_logged(("delivery", row_id))
                elif deliveries:
                    self._dispatch_logged(("delivery", deliveries[0]))
                last = items[-1]
                if last is None:
                    return
                if last[0] != "delivery":
                    self._dispatch_logged(last)
            finally:
                with self._idle:
                    self._pending -= len(items)
                    self._idle.notify_all()

    def _dispatch_logged(self, item: tuple) -> None:
        try:
            self._dispatch(item)
        except Exception:
            log.exception("applier failed on %r; it will be retried on the next start", item[:2])

    def _dispatch(self, item: tuple) -> None:
        kind = item[0]
        if kind == "delivery":
            self.apply_delivery(item[1])
        elif kind == "result":
            self.apply_result(item[1], item[2], item[3])
        elif kind == "key":
            self._release_parked(item[1])
        elif kind == "resume":
            self._resume_chain(item[1])
        elif kind == "no_reasons":
            self._reasons_unavailable(item[1], item[2])
        elif kind == "gone":
            self._operation_gone(item[1])
        elif kind == "expense_results":
            with session_scope(self.db, durable=False) as session:
                expenses_route.apply_sync_results(session, item[1], item[2], item[3])

    # -- deliveries ----------------------------------------------------------------
    def apply_delivery(self, row_id: int) -> None:
        self.apply_deliveries([row_id])

    def apply_deliveries(self, row_ids: list[int]) -> None:
        """Apply these inbox rows in order, in one transaction; publish after it commits."""
        done: list[Outcome] = []
        parked: list[str] = []
        # Beside this process's other writers on PostgreSQL (concurrent): it locks what it changes in one order,
        # as a second team server's applier does. Queued behind them, it held the process's write lock most of
        # a webhook storm, and the inbox, queued behind it, answered Codat late (B7: p50 390 -> 170 ms).
        with session_scope(self.db, durable=False, concurrent=True) as session:
            rows = _lock_deliveries(session, row_ids)
            events = {row.id: _parsed(row.body) for row in rows.values() if row.verdict in ("pending", "parked")}
            held = _load_operations(session, events.values())  # noqa: F841 - kept alive until the commit
            for row_id in row_ids:
                row = rows.get(row_id)
                if row is None or row.id not in events:
                    continue
                outcome = self._apply_delivery_row(session, row, events.pop(row.id))
                set_verdict(row, outcome.verdict, outcome.detail)
                row.applied_at = utcnow()
                if outcome.expense_ids:
                    row.expense_id = outcome.expense_ids[0]
                if outcome.company_id:
                    row.company_id = outcome.company_id
                session.add(row)
                if outcome.verdict == "parked" and row.push_operation_key:
                    parked.append(row.push_operation_key)
                outcome.snapshot(session, Cause.webhook(row.delivery_id))
                register(session, DeliveryRecorded(row.delivery_id, outcome.verdict, row.event_type, outcome.detail,
                                                   outcome.expense_ids[0] if outcome.expense_ids else None))
                done.append(outcome)
        self._parked_keys.update(parked)
        for outcome in done:  # committed (and its events published): the follow-ups may start
            self._after_commit(outcome)
        dropped = [outcome.company_id for outcome in done if outcome.verdict == scope.DROPPED]
        if dropped:
            self._report_dropped(dropped)

    def _apply_delivery_row(self, session: Session, row: WebhookDelivery,
                            event: ParsedEvent | UnusableEvent) -> Outcome:
        if isinstance(event, UnusableEvent):
            return Outcome("unusable", str(event))
        if isinstance(event, IgnoredEvent):
            if event.event_type == SELFTEST_EVENT:
                self.on_selftest(row.delivery_id)
                return Outcome("ignored", "tunnel self-test")
            return Outcome("ignored", f"{event.event_type} is not used by codatdesk")
        cause = Cause.webhook(row.delivery_id)
        if isinstance(event, ExpensesSyncEvent):
            return self._apply_expenses_sync(session, row, event, cause)
        company_id = event.company_id or (row.company_id if isinstance(event, WriteResult) else None)
        # Another company's event (a shared Codat client): counted and dropped, never parked or stored.
        # A result for a push of ours is applied whatever the company (we pushed it: it was served).
        ours = isinstance(event, WriteResult) and session.get(PushOperation, event.push_operation_key) is not None
        if company_id and not ours and not scope.is_served(session, company_id):
            return Outcome(scope.DROPPED, f"company {company_id} is not served by codatdesk", company_id=company_id)
        if isinstance(event, WriteResult):
            row.push_operation_key = event.push_operation_key
            result = OperationResult(
                key=event.push_operation_key, status=event.status, data_type=event.data_type,
                record_id=event.record_id, completed_at=event.completed_at,
            )
            return self._apply_operation(session, result, cause, company_hint=event.company_id)
        if isinstance(event, ConnectionEvent):
            return self._apply_connection(session, event)
        return Outcome("unusable", f"unexpected event {type(event).__name__}")

    def _apply_expenses_sync(self, session: Session, row: WebhookDelivery, event: ExpensesSyncEvent,
                             cause: Cause) -> Outcome:
        """An Expenses sync ended: its transactions are read from Codat after the commit (then applied here)."""
        row.push_operation_key = event.sync_id
        company_id = expenses_route.sync_company(session, event.sync_id)
        if company_id is None:
            if event.company_id and not scope.is_served(session, event.company_id):
                return Outcome(scope.DROPPED, f"company {event.company_id} is not served by codatdesk",
                               company_id=event.company_id)
            # Codat can end a sync before the pusher stored its syncId: kept until it does.
            return Outcome("parked", f"sync {event.sync_id} is not known yet", company_id=event.company_id)
        outcome = Outcome("applied", f"sync {event.sync_id} ended: its transactions are read from Codat",
                          company_id=company_id)
        outcome.syncs_to_read.append((company_id, event.sync_id, cause))
        return outcome

    PARKED_SWEEP_SECONDS = 2.0

    def _sweep_parked(self) -> None:
        """Keys stored by another process (``codatdesk push`` beside ``serve``) release parked rows too."""
        with Session(self.db) as session:
            keys = session.exec(
                select(WebhookDelivery.push_operation_key)
                .join(PushOperation, PushOperation.key == WebhookDelivery.push_operation_key)
                .where(WebhookDelivery.verdict == "parked").distinct()
            ).all()
        for key in keys:
            self._release_parked(key, known=True)

    def _release_parked(self, key: str, *, known: bool = False) -> None:
        # Most keys never had a parked delivery: skip the query (the sweep covers keys
        # that other processes parked).
        if key not in self._parked_keys and not known:
            return
        self._parked_keys.discard(key)
        with Session(self.db) as session:
            ids = session.exec(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.verdict == "parked", WebhookDelivery.push_operation_key == key)
                .order_by(WebhookDelivery.id)
            ).all()
        for row_id in ids:
            self.apply_delivery(row_id)

    # -- results from reconciliation ---------------------------------------------
    def apply_result(self, company_id: str, result: OperationResult, cause: Cause) -> None:
        with session_scope(self.db, durable=False) as session:
            outcome = self._apply_operation(session, result, cause, company_hint=company_id)
            outcome.snapshot(session, cause)
        self._after_commit(outcome)

    # -- the core of it ----------------------------------------------------------
    def _apply_operation(self, session: Session, result: OperationResult, cause: Cause,
                         company_hint: str | None = None) -> Outcome:
        op = session.get(PushOperation, result.key)
        if op is None:
            # Codat can answer before we stored the key: keep it until we do.
            return Outcome("parked", f"push operation {result.key} is not known yet", company_id=company_hint)
        outcome = Outcome("applied", company_id=op.company_id)
        already = op.status
        if already == result.status == "Success" and op.data_type != "directCosts" and not op.record_id \
                and result.has_details:
            # The read of the push operation asked for by a Success that came without the new record's id.
            op.record_id = result.record_id
            op.last_checked_at = utcnow()
            self._store_details(op, result)
            session.add(op)
            self._apply_to_dependents(session, op, result, cause, outcome)
            return outcome
        if already == result.status and already != "Pending":
            if result.has_details and _details_differ(op, result):
                self._store_details(op, result)
                if already == "Success":
                    self._show_warnings(session, op, outcome)
                else:
                    self._refresh_failure_detail(session, op, outcome)
                session.add(op)
                return outcome
            if result.has_details and op.last_checked_at is None:  # read, with nothing new: asked no more
                op.last_checked_at = utcnow()
                session.add(op)
            outcome.verdict, outcome.detail = "stale", f"operation already {already}"
            return outcome
        if already == result.status == OperationStatus.PENDING:
            if result.has_details:
                op.last_checked_at = utcnow()
                session.add(op)
            outcome.verdict, outcome.detail = "stale", "operation still pending"
            return outcome
        if not OPERATION.allows(already, result.status):  # final, or TimedOut and not a late Success
            outcome.verdict = "stale"
            outcome.detail = f"operation already {already}; {result.status} ignored"
            return outcome

        set_operation_status(op, result.status)
        outcome.ended.append((op.key, op.status))
        op.completed_at = result.completed_at or utcnow()
        op.record_id = result.record_id or op.record_id
        op.last_checked_at = utcnow() if result.has_details else op.last_checked_at
        if result.has_details:
            self._store_details(op, result)
        session.add(op)

        if op.data_type == "directCosts":
            self._apply_to_expense(session, op, result, cause, outcome)
        else:
            self._apply_to_dependents(session, op, result, cause, outcome)
        if result.status in ("Failed", "TimedOut") and not result.has_details:
            outcome.fetch_details_for.append((op.company_id, op.key))
        elif result.status == "Success" and op.data_type == "directCosts" and not result.has_details:
            # A write webhook carries no validation warnings: one GET of the push operation reads them.
            outcome.warnings_to_read.append((op.company_id, op.key))
        return outcome

    def _apply_to_expense(self, session: Session, op: PushOperation, result: OperationResult, cause: Cause,
                          outcome: Outcome) -> None:
        expense = session.get(Expense, op.expense_id) if op.expense_id else None
        if expense is None:
            outcome.verdict, outcome.detail = "stale", "the expense no longer exists"
            return
        outcome.expense_ids.append(expense.id)
        if expense.push_operation_key != op.key:
            outcome.verdict, outcome.detail = "stale", f"expense {expense.id} has a newer push"
            return
        trigger = RESULT_TRIGGERS[result.status]
        if not can_apply(ExpenseStatus(expense.status), trigger):
            outcome.verdict = "stale"
            outcome.detail = f"expense {expense.id} is already {ExpenseStatus(expense.status).value}"
            return
        detail = None
        if result.status == "Failed":
            detail = describe_failure("Failed", op.error_message, _loads(op.validation_errors_json)) if result.has_details \
                else FETCHING_REASONS
        elif result.status == "TimedOut":
            detail = outcome_unknown_detail(describe_failure("TimedOut", op.error_message,
                                                             _loads(op.validation_errors_json)))
        elif result.status == "Success":
            detail = describe_warnings(_loads(op.validation_warnings_json))
        change_status(session, expense, trigger, cause, detail=detail)
        outcome.detail = f"expense {expense.id}: {result.status}"

    def _apply_to_dependents(self, session: Session, op: PushOperation, result: OperationResult, cause: Cause,
                             outcome: Outcome) -> None:
        waiting = session.exec(
            select(Expense).where(Expense.waiting_on_key == op.key, Expense.status == ExpenseStatus.WAITING)
        ).all()
        outcome.expense_ids.extend(e.id for e in waiting)
        what = _prerequisite_label(op)
        if result.status == "Success" and op.record_id:
            for expense in waiting:
                if op.data_type == "suppliers":
                    expense.supplier_id = op.record_id
                else:
                    expense.account_id = op.record_id
                expense.status_detail = f"{what} was created; sending the expense"
                session.add(expense)
            if op.creates_code:
                _remember_mapping(session, op)
            if waiting:
                outcome.dependents_ready.append(([e.id for e in waiting], op.key))
            outcome.detail = f"{what} created ({op.record_id}); {len(waiting)} expense(s) released"
            return
        if result.status == "Success":
            if not result.has_details:
                # A webhook (or a resumed chain) said Success without the id: read the push operation.
                for expense in waiting:
                    expense.status_detail = f"{what} was created; asking Codat for its id"
                    session.add(expense)
                outcome.fetch_details_for.append((op.company_id, op.key))
                outcome.detail = f"{what} created without its id; reading push operation {op.key}"
                return
            kind = "supplier" if op.data_type == "suppliers" else "account"
            for expense in waiting:
                change_status(session, expense, Trigger.PREREQUISITE_FAILED, cause, detail=(
                    f"{what} was created in the accounting software, but Codat did not say its id (push "
                    f"operation {op.key}), so this expense was not sent. Map {kind} {op.creates_code or ''} to "
                    f"the new {kind} (Mappings), then push again; it will not be created a second time.")
                    .replace("  ", " "))
            outcome.detail = f"{what} created, its id unknown; {len(waiting)} expense(s) need a mapping"
            return
        reason = describe_failure(result.status, op.error_message, _loads(op.validation_errors_json))
        for expense in waiting:
            change_status(session, expense, Trigger.PREREQUISITE_FAILED, cause,
                          detail=f"{what} could not be created, so this expense was not sent. {reason}")
        outcome.detail = f"{what} failed; {len(waiting)} expense(s) failed with it"

    def _show_warnings(self, session: Session, op: PushOperation, outcome: Outcome) -> None:
        """A Success read after its webhook: Codat's warnings go on the row and on the history entry of
        that Success (the change they belong to), so neither hides them."""
        outcome.detail = "details stored"
        warning = describe_warnings(_loads(op.validation_warnings_json))
        expense = session.get(Expense, op.expense_id) if op.data_type == "directCosts" and op.expense_id else None
        if warning is None or expense is None or expense.push_operation_key != op.key \
                or ExpenseStatus(expense.status) is not ExpenseStatus.COMPLETE:
            return
        expense.status_detail = warning
        session.add(expense)
        entry = session.exec(select(StatusChange).where(
            StatusChange.expense_id == expense.id, StatusChange.to_status == ExpenseStatus.COMPLETE.value)
            .order_by(StatusChange.id.desc())).first()
        if entry is not None and not entry.detail:
            entry.detail = warning
            session.add(entry)
        outcome.expense_ids.append(expense.id)

    def _refresh_failure_detail(self, session: Session, op: PushOperation, outcome: Outcome) -> None:
        """Details arrived after the status: rewrite the explanation on the affected expenses."""
        reason = describe_failure(op.status, op.error_message, _loads(op.validation_errors_json))
        if op.data_type == "directCosts" and op.expense_id:
            expense = session.get(Expense, op.expense_id)
            if expense and expense.push_operation_key == op.key and ExpenseStatus(expense.status).is_final:
                if ExpenseStatus(expense.status) is ExpenseStatus.OUTCOME_UNKNOWN:
                    reason = outcome_unknown_detail(reason)
                expense.status_detail = reason
                session.add(expense)
                outcome.expense_ids.append(expense.id)
        elif op.data_type != "directCosts":
            what = _prerequisite_label(op)
            failed = session.exec(select(Expense).where(
                Expense.status == ExpenseStatus.FAILED, Expense.waiting_on_key == op.key)).all()
            for expense in failed:
                expense.status_detail = f"{what} could not be created, so this expense was not sent. {reason}"
                session.add(expense)
                outcome.expense_ids.append(expense.id)
        outcome.detail = "details stored"

    def _reasons_unavailable(self, key: str, why: str) -> None:
        with session_scope(self.db, durable=False) as session:
            op = session.get(PushOperation, key)
            if op is None or op.status != "Failed" or op.has_reasons:
                return  # the reasons arrived meanwhile (or there is nothing to explain)
            outcome = Outcome("applied", company_id=op.company_id)
            later = f"Codat's reasons could not be fetched yet ({why}); they are fetched again at the next check."
            if op.data_type == "directCosts" and op.expense_id:
                expense = session.get(Expense, op.expense_id)
                if expense and expense.push_operation_key == op.key and expense.status == ExpenseStatus.FAILED:
                    expense.status_detail = f"Codat rejected this expense. {later}"
                    session.add(expense)
                    outcome.expense_ids.append(expense.id)
            elif op.data_type != "directCosts":
                what = _prerequisite_label(op)
                for expense in session.exec(select(Expense).where(
                        Expense.status == ExpenseStatus.FAILED, Expense.waiting_on_key == op.key)).all():
                    expense.status_detail = f"{what} could not be created, so this expense was not sent. {later}"
                    session.add(expense)
                    outcome.expense_ids.append(expense.id)
            outcome.snapshot(session, Cause.reconciliation(key))
        self._after_commit(outcome)

    def _operation_gone(self, key: str) -> None:
        with session_scope(self.db, durable=False) as session:
            op = session.get(PushOperation, key)
            if op is None or op.error_message == UNKNOWN_TO_CODAT or op.status == "Success" \
                    or (op.status == "Failed" and op.has_reasons):
                return
            outcome = Outcome("applied", company_id=op.company_id)
            was = op.status
            op.error_message = UNKNOWN_TO_CODAT  # reconciliation stops asking about it
            if was == "Pending":
                set_operation_status(op, OperationStatus.TIMED_OUT)  # ours, not Codat's: written or not, nobody knows
                op.completed_at = utcnow()
                outcome.ended.append((op.key, op.status))
            session.add(op)
            expense = session.get(Expense, op.expense_id) if op.data_type == "directCosts" and op.expense_id else None
            if expense is not None and expense.push_operation_key == op.key:
                status = ExpenseStatus(expense.status)
                if status is ExpenseStatus.IN_PROGRESS:
                    change_status(session, expense, Trigger.RESULT_TIMED_OUT, Cause.reconciliation(key), detail=(
                        f"{UNKNOWN_TO_CODAT}: whether it reached the ledger cannot be told. Look for it in the "
                        "accounting software; if it is not there, push it again anyway."))
                elif status in (ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN):
                    expense.status_detail = (
                        f"{UNKNOWN_TO_CODAT}, so its reasons cannot be read any more. "
                        + ("Check the expense and push it again." if status is ExpenseStatus.FAILED else
                           "Look for it in the accounting software; if it is not there, push it again anyway."))
                    session.add(expense)
                outcome.expense_ids.append(expense.id)
            elif op.data_type != "directCosts" and was == "Pending":
                self._apply_to_dependents(session, op, OperationResult(key=op.key, status="TimedOut"),
                                          Cause.reconciliation(key), outcome)
            outcome.snapshot(session, Cause.reconciliation(key))
        self._after_commit(outcome)

    @staticmethod
    def _store_details(op: PushOperation, result: OperationResult) -> None:
        op.error_message = result.error_message
        op.validation_errors_json = dumps_list(result.validation_errors)
        op.validation_warnings_json = dumps_list(result.validation_warnings)
        op.status_code = result.status_code

    # -- connections ---------------------------------------------------------------
    def _apply_connection(self, session: Session, event: ConnectionEvent) -> Outcome:
        if not event.connection_id:
            return Outcome("unusable", "connection event without a connection id")
        if event.source_type and event.source_type != ACCOUNTING:
            return Outcome("ignored", f"a {event.source_type} connection: codatdesk pushes to accounting "
                                      "connections only", company_id=event.company_id)
        conn = session.get(Connection, event.connection_id)
        company_id = event.company_id or (conn.company_id if conn else None)
        if company_id is None:
            return Outcome("unusable", "connection event without a company id")
        if not scope.is_served(session, company_id):  # a legacy event without the company in its body
            return Outcome(scope.DROPPED, f"company {company_id} is not served by codatdesk", company_id=company_id)
        was = conn.status if conn else None
        applied = record_connection_fact(session, ConnectionFact(
            event.connection_id, company_id, event.status, event.generated_at, event.platform_name,
            event.integration_key, event.link_url, json.dumps(event.errors, default=str) if event.errors else None))
        if applied is FactApplied.STALE:
            return Outcome("stale", "a newer fact about this connection was already stored", company_id=company_id)
        conn = session.get(Connection, event.connection_id)
        outcome = Outcome("applied", f"connection {conn.id} is {conn.status}", company_id=company_id)
        outcome.reconnected = conn.status == "Linked" and was not in (None, "Linked")
        # A new Linked connection, or the end of one, may replace the company's chosen connection:
        # the connection check (reconciliation) follows it.
        outcome.reconnected |= (conn.status == "Linked" and was is None) or conn.status == "Deleted"
        return outcome

    def _report_dropped(self, company_ids: list[str | None]) -> None:
        """Deliveries for companies we do not serve: counted (activity view, ``serve``), then forgotten."""
        with Session(self.db) as session:
            total = scope.dropped_count(session)
        log.info("dropped %d webhook deliveries for companies codatdesk does not serve (%d so far): %s",
                 len(company_ids), total, ", ".join(sorted({c or "?" for c in company_ids})))
        self.bus.publish(DeliveriesDropped(total))
        new = sorted({c for c in company_ids if c} - self._dropped_companies)
        if new:
            self._dropped_companies.update(new)
            self.bus.publish(Notice("info", f"Webhooks arrived for {len(new)} Codat compan"
                                            f"{'y' if len(new) == 1 else 'ies'} this app does not serve "
                                            f"({', '.join(new)}); they were dropped ({total} so far). Nothing to "
                                            "do, unless one of them should be served: then choose it in Settings.",
                                    topic="webhook_scope"))

    # -- after commit --------------------------------------------------------------
    def _after_commit(self, outcome: Outcome) -> None:
        for company_id, key in outcome.fetch_details_for:
            self.fetch_details(company_id, key)
        for company_id, key in outcome.warnings_to_read:
            (self.read_warnings_later or self.fetch_details)(company_id, key)
        for company_id, sync_id, cause in outcome.syncs_to_read:
            self.read_expense_sync(company_id, sync_id, cause)
        for ids, key in outcome.dependents_ready:
            self.push_dependents(ids, key)
        for key, status in outcome.ended:
            self.push_ended(key, status)
        if outcome.reconnected and outcome.company_id:
            self.on_reconnected(outcome.company_id)

    def resume_chain(self, key: str) -> None:
        """Release or fail the expenses waiting on ``key`` if it already finished (queued, in order)."""
        self._put(("resume", key))

    def resume_chains(self) -> None:
        """Every chain whose prerequisite finished while nobody was listening (start, reconciliation)."""
        with Session(self.db) as session:
            keys = session.exec(
                select(Expense.waiting_on_key).where(Expense.status == ExpenseStatus.WAITING).distinct()
            ).all()
        for key in keys:
            if key:
                self.resume_chain(key)

    def _resume_chain(self, key: str) -> None:
        with session_scope(self.db, durable=False) as session:
            op = session.get(PushOperation, key)
            if op is None or op.status == "Pending":
                return
            outcome = Outcome("applied", company_id=op.company_id)
            result = OperationResult(key=op.key, status=op.status, record_id=op.record_id)
            cause = Cause.engine(f"prerequisite {key} already {op.status}")
            self._apply_to_dependents(session, op, result, cause, outcome)
            outcome.snapshot(session, cause)
        self._after_commit(outcome)


def _details_differ(op: PushOperation, result: OperationResult) -> bool:
    """Would storing ``result``'s details change anything? (Reconciliation re-reads outcome-unknown
    operations every run: the same answer again writes nothing.)"""
    return (op.error_message, op.validation_errors_json, op.validation_warnings_json, op.status_code) != (
        result.error_message, dumps_list(result.validation_errors), dumps_list(result.validation_warnings),
        result.status_code)


def _prerequisite_label(op: PushOperation) -> str:
    noun = "The supplier" if op.data_type == "suppliers" else "The account"
    return f"{noun} {op.creates_code}" if op.creates_code else noun


def _remember_mapping(session: Session, op: PushOperation) -> None:
    kind = "supplier" if op.data_type == "suppliers" else "account"
    code = op.creates_code or ""
    existing = session.exec(select(Mapping).where(
        Mapping.company_id == op.company_id, Mapping.kind == kind, Mapping.local_value == code)).first()
    if existing is None:
        session.add(Mapping(company_id=op.company_id, kind=kind, local_value=code, codat_id=op.record_id))


def _loads(text: str | None) -> list[dict]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


# -- the batch's reads: a few queries per batch instead of a few per delivery ---------------------------------------

def _lock_deliveries(session: Session, row_ids: list[int]) -> dict[int, WebhookDelivery]:
    """The batch's inbox rows, in one query. Locked (PostgreSQL FOR UPDATE, in id order so two servers
    cannot deadlock): a second team server given the same delivery waits for this commit and then finds
    it applied, instead of applying it again as stale."""
    query = select(WebhookDelivery).where(col(WebhookDelivery.id).in_(row_ids)).order_by(col(WebhookDelivery.id))
    return {row.id: row for row in session.exec(query.with_for_update()) if row.id is not None}


def _parsed(body: bytes) -> ParsedEvent | UnusableEvent:
    try:
        return parse_event(body)
    except UnusableEvent as exc:
        return exc


def _load_operations(session: Session, events: Iterable[ParsedEvent | UnusableEvent]) -> list[object]:
    """Read the push operations these results name, and their expenses, into the session at once.

    The operations are locked (PostgreSQL FOR UPDATE, in key order) and their expenses read after, in a query of
    their own (joined to the first, they would be read as they were before the lock's wait): a second
    team server applying another delivery of the same result waits here for this commit, then reads the
    operation and the expense as this one left them and finds the result applied. The session's identity
    map holds unchanged objects weakly, so the caller keeps the returned list until its commit: each later
    ``session.get`` is then a lookup, not a query (nor the autoflush before one).
    """
    keys = sorted({e.push_operation_key for e in events if isinstance(e, WriteResult)})
    if not keys:
        return []
    operations = list(session.exec(select(PushOperation).where(col(PushOperation.key).in_(keys))
                                   .order_by(col(PushOperation.key)).with_for_update()))
    expense_ids = list({op.expense_id for op in operations if op.expense_id is not None})
    expenses = list(session.exec(select(Expense).where(col(Expense.id).in_(expense_ids)))) if expense_ids else []
    return [*operations, *expenses]
