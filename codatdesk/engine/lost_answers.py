"""Pushes whose answer was lost, or whose process died mid-request: asked again, or matched to Codat's history.

A push POST that timed out, lost its connection or kept getting a 5xx (the client resends a 5xx
under the same key a few times first) may have reached Codat.
Its ``PushAttempt`` stays open ("unknown"; "sending" for one a killed process left
behind) and the expense cannot be pushed again until the outcome is known:

1. **Same Idempotency-Key** (authoritative): within ``idempotency_window`` of the attempt's
   start (Codat keeps the first answer 90 minutes: codatio/codat-docs
   ``docs/using-the-api/write-data/idempotency.md``) the stored body is sent again with the
   stored key. Codat answers with the first request's answer, or, if the first never
   arrived, processes this one: either way the answer is the push's. A refusal (400 ...)
   means nothing was written.
2. **Push history** (fallback): attempts stored without a key (before migration 0003),
   past the window, or whose resend got no usable answer (lost again, a 5xx Codat keeps
   under the key, 422) are matched to Codat's push history as before: an operation that
   is ours is adopted, and an attempt with nothing of its own in the history is declared
   not sent.

``LostAnswerRecovery`` is an object the ``PushEngine`` owns and gives what it needs: the
store, the bus, the client, its ``connection_for``/``timeout_for`` answers, the applier's
``key_stored``/``submit_result``, its own ``fetch_details`` and the ``InFlight`` registry
both record sends in (an attempt being sent now is neither an orphan nor a lost answer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk import jsonmoney, machines
from codatdesk.codat import CodatClient, CodatError, PushOutcomeUnknown
from codatdesk.engine.results import OperationResult, describe_failure
from codatdesk.events import EventBus
from codatdesk.states import ExpenseStatus, Trigger, can_apply, sending_trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status, expense_touched
from codatdesk.store.models import Expense, PushAttempt, PushOperation, utcnow

log = logging.getLogger(__name__)
# Attempts whose push may have reached Codat without us storing its key.
OPEN_OUTCOMES = tuple(o.value for o in machines.OPEN_OUTCOMES)


class InFlight:
    """The push attempts this process is sending now (POST sent, answer not stored yet)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[int, tuple[str, str]] = {}  # attempt id -> (company, data type)

    @contextlib.contextmanager
    def sending(self, attempt_id: int, company_id: str, data_type: str) -> Iterator[None]:
        """While this process waits for Codat's answer (and stores it), its attempt is no orphan."""
        with self._lock:
            self._attempts[attempt_id] = (company_id, data_type)
        try:
            yield
        finally:
            with self._lock:
                self._attempts.pop(attempt_id, None)

    def busy(self, company_id: str, data_type: str) -> bool:
        with self._lock:
            return (company_id, data_type) in self._attempts.values()

    def attempt_ids(self) -> set[int]:
        with self._lock:
            return set(self._attempts)


class LostAnswerRecovery:
    def __init__(
        self,
        db: Engine,
        bus: EventBus,
        client: Callable[[], CodatClient],
        *,
        in_flight: InFlight,
        connection_for: Callable[[str], str | None],
        timeout_for: Callable[[Session, str], int | None],
        key_stored: Callable[[str], None],
        submit_result: Callable[[str, OperationResult, Cause], None],
        fetch_details: Callable[[str, str], None],
    ) -> None:
        self.db = db
        self.bus = bus
        self.client = client
        self.in_flight = in_flight
        self.connection_for = connection_for
        self.timeout_for = timeout_for
        self.key_stored = key_stored
        self.submit_result = submit_result
        self.fetch_details = fetch_details
        self.unknown_grace = dt.timedelta(seconds=30)  # Codat's push history may lag behind the POST
        # No live push request lasts this long (read timeouts plus the 429 budget): an attempt still
        # "sending" after it belongs to a process that died mid-request, and counts as unknown.
        self.orphan_after = dt.timedelta(minutes=10)
        # Codat keeps a push's first answer under its Idempotency-Key for 90 minutes (codat-docs
        # docs/using-the-api/write-data/idempotency.md); resend under the key only well inside that.
        self.idempotency_window = dt.timedelta(minutes=80)
        self.started_at = utcnow()
        self._locks_guard = threading.Lock()
        self._resolve_locks: dict[str, threading.Lock] = {}

    def adopt_orphans(self, company_id: str) -> int:
        """Attempts left "sending" by a process that died mid-request become attempts of unknown outcome."""
        cutoff = utcnow() - self.orphan_after
        mine = self.in_flight.attempt_ids()
        with session_scope(self.db) as session:
            orphans = [a for a in session.exec(select(PushAttempt).where(
                PushAttempt.company_id == company_id, PushAttempt.outcome == "sending",
                PushAttempt.started_at <= cutoff)).all() if a.id not in mine]
            for attempt in orphans:
                machines.set_attempt_outcome(attempt, machines.AttemptOutcome.UNKNOWN)
                attempt.detail = "codatdesk stopped before Codat's answer was stored"
                session.add(attempt)
        return len(orphans)

    def resolve_unknown(self, company_id: str) -> int:
        """Match attempts of unknown outcome to Codat's push history; returns how many were settled."""
        with self._locks_guard:
            lock = self._resolve_locks.setdefault(company_id, threading.Lock())
        with lock:  # two runs at once would both adopt the same operation
            return self._resolve_unknown(company_id)

    def _open_attempts(self, company_id: str) -> list[PushAttempt]:
        with Session(self.db) as session:
            return list(session.exec(select(PushAttempt).where(
                PushAttempt.company_id == company_id, PushAttempt.outcome == "unknown"
            ).order_by(PushAttempt.started_at)).all())

    def _resolve_unknown(self, company_id: str) -> int:
        self.adopt_orphans(company_id)
        attempts = self._open_attempts(company_id)
        if not attempts:
            return 0
        settled = 0
        for attempt in attempts:
            if self._resend_with_same_key(company_id, attempt):
                settled += 1
        attempts = self._open_attempts(company_id)  # the rest, with the times of their resends
        if not attempts:
            return settled
        client = self.client()
        for data_type in sorted({a.data_type for a in attempts}):
            history = client.list_push_operations(company_id, query=f"dataType={data_type}")
            # In this order: a push of ours whose answer is still on its way is in the history but not
            # yet known, and would be taken for a lost one. Try again once nothing is in flight.
            if self.in_flight.busy(company_id, data_type):
                continue
            with Session(self.db) as session:
                known = set(session.exec(select(PushOperation.key).where(
                    PushOperation.company_id == company_id)).all())
                answered = session.exec(select(PushAttempt).where(
                    PushAttempt.company_id == company_id, PushAttempt.data_type == data_type,
                    PushAttempt.outcome == "sent", PushAttempt.finished_at.is_not(None),
                ).order_by(PushAttempt.id.desc()).limit(200)).all()
            results = [OperationResult.from_push_operation(op) for op in history]
            low, high = _clock_offset(answered, {r.key: r.requested_at for r in results})
            candidates = sorted((r for r in results if r.key not in known and r.requested_at),
                                key=lambda r: r.requested_at)
            open_attempts = [a for a in attempts if a.data_type == data_type]
            settled += self._match(company_id, open_attempts, candidates, low, high)
        return settled

    def _resend_with_same_key(self, company_id: str, attempt: PushAttempt) -> bool:
        """Send the attempt's stored body again under its stored Idempotency-Key; True once settled."""
        if not attempt.idempotency_key or attempt.request_json is None:
            return False  # stored before keys existed: push history only
        if utcnow() - attempt.started_at >= self.idempotency_window:
            return False  # Codat may have forgotten the key: a resend could write a second record
        connection_id = self.connection_for(company_id)
        if not connection_id:
            return False
        body = jsonmoney.loads(attempt.request_json)
        with Session(self.db) as session:
            timeout_in_minutes = self.timeout_for(session, connection_id)
        client = self.client()
        try:
            with self.in_flight.sending(attempt.id, company_id, attempt.data_type):
                if attempt.data_type == "directCosts":
                    answer = client.push_direct_cost(company_id, connection_id, body,
                                                     timeout_in_minutes=timeout_in_minutes,
                                                     idempotency_key=attempt.idempotency_key, resend=True)
                elif attempt.data_type == "suppliers":
                    answer = client.push_supplier(company_id, connection_id, body,
                                                  idempotency_key=attempt.idempotency_key, resend=True)
                else:
                    answer = client.push_account(company_id, connection_id, body,
                                                 idempotency_key=attempt.idempotency_key, resend=True)
        except PushOutcomeUnknown as exc:
            self._resent_without_answer(attempt, exc)
            return False
        except CodatError as exc:
            if exc.processed is False and exc.status is not None and exc.status not in (401, 403, 429) \
                    and exc.status < 500:
                # A refusal under the same key (replayed or fresh): nothing of this push was written.
                self._refused_on_resend(attempt, exc)
                return True
            self._resent_without_answer(attempt, exc)
            return False
        result = OperationResult.from_push_operation(answer)
        self._adopt(attempt, result, how="Codat's answer, asked again with the same Idempotency-Key")
        if not result.is_final:
            # Codat replays its first answer (Pending); the operation may have finished since, and its
            # webhook may have gone to nobody (a crash): read its state now.
            self.fetch_details(company_id, result.key)
        return True

    def _resent_without_answer(self, attempt: PushAttempt, exc: CodatError) -> None:
        # The resend may have reached Codat too: the window in which Codat can have received this
        # attempt (for the history match) now ends after it.
        log.info("resending push attempt %s under its key got no answer: %s", attempt.id, exc)
        with session_scope(self.db) as session:
            row = session.get(PushAttempt, attempt.id)
            if row is not None and row.outcome == "unknown":
                row.finished_at = utcnow()
                row.detail = f"asked again with the same Idempotency-Key, no answer: {exc}"[:2000]
                session.add(row)

    def _refused_on_resend(self, attempt: PushAttempt, exc: CodatError) -> None:
        reason = describe_failure("Failed", exc.message, exc.validation_errors)
        with session_scope(self.db) as session:
            finish_attempt(session, attempt.id, "rejected", None, f"refused under its Idempotency-Key: {exc}")
            expense = session.get(Expense, attempt.expense_id) if attempt.expense_id is not None else None
            if expense is not None and can_apply(ExpenseStatus(expense.status), Trigger.PUSH_REJECTED):
                change_status(session, expense, Trigger.PUSH_REJECTED, Cause.reconciliation(attempt.idempotency_key or ""),
                              detail=reason.replace("Codat rejected this expense", "Codat refused the push", 1))

    def _window(self, attempt: PushAttempt, low: dt.timedelta, high: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        """When Codat can have received this attempt's POST (in Codat's clock): between its start and the
        moment we gave up on it. An orphan's process died before this engine started (if it started
        earlier), or at the latest when its request would have timed out."""
        end = attempt.finished_at or attempt.started_at + self.orphan_after
        if attempt.finished_at is None and attempt.started_at < self.started_at:
            end = min(end, self.started_at)
        return attempt.started_at + low, end + high

    def _match(self, company_id: str, attempts: list[PushAttempt], candidates: list[OperationResult],
               low: dt.timedelta, high: dt.timedelta) -> int:
        """Attribute unclaimed operations in Codat's history to our attempts of unknown outcome.

        An attempt alone with one operation in its window owns it. Otherwise time cannot tell concurrent
        attempts apart, and a wrong guess paints a row green that is not in the ledger (and resends the
        one that is), or red with another row's reasons. So a successful direct cost is attributed by its
        content, read back from the ledger; an attempt that may own an operation whose content cannot be
        read yet (still Pending, or not readable) waits for a later run; the rest are declared not sent:
        whatever else is in their windows failed, so nothing of theirs is in the ledger.
        """
        windows = {a.id: self._window(a, low, high) for a in attempts}

        def fits(attempt: PushAttempt, op: OperationResult) -> bool:
            earliest, latest = windows[attempt.id]
            return earliest <= op.requested_at <= latest

        settled = 0
        waiting: set[int] = set()
        remaining = list(attempts)
        for attempt in list(remaining):  # one attempt, one operation in its window: nothing to tell apart
            ops = [op for op in candidates if fits(attempt, op)]
            if len(ops) == 1 and [a for a in remaining if fits(a, ops[0])] == [attempt]:
                candidates.remove(ops[0])
                remaining.remove(attempt)
                self._adopt(attempt, ops[0])
                settled += 1
        for op in list(candidates):
            owners = [a for a in remaining if fits(a, op)]
            if not owners:
                continue
            if op.status == "Pending" or (op.status == "Success" and op.data_type == "directCosts"
                                          and not op.record_id):
                waiting.update(a.id for a in owners)
                continue
            if op.status != "Success" or op.data_type != "directCosts":
                continue
            try:
                owner = self._owner_by_content(company_id, op, owners)
            except CodatError as exc:
                log.info("could not read direct cost %s back: %s", op.record_id, exc)
                waiting.update(a.id for a in owners)
                continue
            candidates.remove(op)
            if owner is not None:  # otherwise someone else's push (another app on the same company)
                remaining.remove(owner)
                self._adopt(owner, op)
                settled += 1
        for attempt in [a for a in remaining if a.id not in waiting]:
            # Grace from the last send: a resend under the same key may be in Codat and not yet in its history.
            if utcnow() - (attempt.finished_at or attempt.started_at) >= self.unknown_grace:
                # Nothing of this attempt's is in the ledger: any operation left in its window is a Failed or
                # TimedOut one that time cannot attribute. Pushing again lets Codat say again.
                self._declare_not_sent(attempt)
                settled += 1
        return settled

    def _owner_by_content(self, company_id: str, op: OperationResult, attempts: list[PushAttempt]) -> PushAttempt | None:
        connection_id = self.connection_for(company_id)
        record = self.client().get_direct_cost(company_id, connection_id, op.record_id) if connection_id else {}
        with Session(self.db) as session:
            for attempt in attempts:
                expense = session.get(Expense, attempt.expense_id) if attempt.expense_id else None
                if expense is not None and _same_direct_cost(record, expense):
                    return attempt
        return None

    def _adopt(self, attempt: PushAttempt, result: OperationResult,
               how: str = "Found in Codat's push history after the answer was lost") -> None:
        connection_id = self.connection_for(attempt.company_id) or ""
        with session_scope(self.db) as session:
            session.add(PushOperation(
                key=result.key, company_id=attempt.company_id, connection_id=connection_id,
                data_type=attempt.data_type, expense_id=attempt.expense_id, creates_code=attempt.creates_code,
                status="Pending", requested_at=result.requested_at or attempt.started_at))
            if attempt.expense_id is not None:
                expense = session.get(Expense, attempt.expense_id)
                status = ExpenseStatus(expense.status) if expense is not None else None
                # A dependent's push leaves it Waiting until the answer is stored: Waiting -> in progress too.
                # An outcome-unknown expense has an attempt only if the user pushed it again anyway.
                trigger = sending_trigger(status, Trigger.PUSH_SENT) if status is not None else None
                if status is not None and trigger is not None and can_apply(status, trigger):
                    change_status(session, expense, trigger,
                                  Cause.reconciliation(result.key), push_operation_key=result.key, detail=how)
            finish_attempt(session, attempt.id, "resolved", result.key, how)
        self.key_stored(result.key)
        self.submit_result(attempt.company_id, result, Cause.reconciliation(result.key))

    def _declare_not_sent(self, attempt: PushAttempt) -> None:
        with session_scope(self.db) as session:
            finish_attempt(session, attempt.id, "not_sent", None, "not in Codat's push history")
            if attempt.expense_id is not None:
                expense = session.get(Expense, attempt.expense_id)
                if expense is not None:
                    expense.status_detail = "The push never reached Codat (checked its push history); push it again."
                    session.add(expense)
                    expense_touched(session, expense, Cause.reconciliation())


def _same_direct_cost(record: dict, expense: Expense) -> bool:
    """Is ``record`` (a direct cost read from the ledger) the one built from ``expense``?"""
    try:
        total = Decimal(str(record.get("totalAmount")))
    except ArithmeticError:
        return False
    return (total == Decimal(expense.total)
            and str(record.get("currency") or "") == expense.currency
            and str(record.get("issueDate") or "")[:10] == expense.expense_date.isoformat()
            and (record.get("reference") or "") == (expense.reference or "")
            and (record.get("note") or "") == (expense.description or ""))

def _clock_offset(answered: list[PushAttempt], requested: dict[str, dt.datetime | None]) -> tuple[dt.timedelta, dt.timedelta]:
    """Bounds of Codat's clock minus ours, from pushes whose answers we have: each was received by Codat
    between its attempt's start and finish. Without any, allow two minutes either way."""
    low, high = None, None
    for attempt in answered:
        received = requested.get(attempt.push_operation_key or "")
        if received is None:
            continue
        low = max(low, received - attempt.finished_at) if low is not None else received - attempt.finished_at
        high = min(high, received - attempt.started_at) if high is not None else received - attempt.started_at
    margin = dt.timedelta(milliseconds=50)  # Codat writes requestedOnUtc to the millisecond or finer
    if low is None or high is None or low > high:
        return -dt.timedelta(seconds=120), dt.timedelta(seconds=120)
    return low - margin, high + margin

def has_open_attempt(session: Session, expense_id: int) -> bool:
    """A push of this expense may be on its way (or may have landed): sending again could duplicate it."""
    return session.exec(select(PushAttempt.id).where(
        PushAttempt.expense_id == expense_id, PushAttempt.outcome.in_(OPEN_OUTCOMES))).first() is not None

def finish_attempt(session: Session, attempt_id: int, outcome: str, key: str | None, detail: str = "") -> None:
    attempt = session.get(PushAttempt, attempt_id)
    machines.set_attempt_outcome(attempt, outcome)
    attempt.push_operation_key = key
    attempt.finished_at = utcnow()
    attempt.detail = detail[:2000]
    session.add(attempt)
