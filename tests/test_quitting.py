"""Quitting never waits out Codat: a stop ends the client's backoff and Retry-After waits and cuts a
request waiting for its answer at once, and a stopped engine refuses new work instead of building a new pool."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from codatdesk.codat import ClientClosed, CodatClient, PushOutcomeUnknown
from codatdesk.engine.core import Core
from codatdesk.engine.pusher import EngineClosed, PushBatch, PushProblem
from codatdesk.settings import Settings
from codatdesk.store.db import open_database
from codatdesk.store.history import Cause

COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "51baa045-4836-4317-a42e-3542e991e581"


def always(status: int, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, headers=headers or {}, json={}))


def run_in_thread(fn) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - the test asserts on what the call raised
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_closing_the_client_ends_a_long_retry_after_at_once():
    waiting = threading.Event()
    client = CodatClient("key", "http://codat.invalid", transport=always(429, {"Retry-After": "100"}),
                         on_wait=lambda reason, seconds: waiting.set())
    thread, outcome = run_in_thread(lambda: client.get_company(COMPANY))
    assert waiting.wait(10)
    started = time.monotonic()
    client.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    assert isinstance(outcome["error"], ClientClosed) and outcome["error"].processed is False


def test_a_push_whose_resend_is_interrupted_is_outcome_unknown_not_failed():
    """A 5xx may have reached Codat: closing during the backoff before the same-key resend leaves
    the push unknown (its key is asked about again at the next start), never 'not sent'."""
    waiting = threading.Event()
    client = CodatClient("key", "http://codat.invalid", transport=always(502), backoff_base=50,
                         on_wait=lambda reason, seconds: waiting.set())
    thread, outcome = run_in_thread(lambda: client.push_direct_cost(COMPANY, CONNECTION, {"reference": "x"},
                                                                    idempotency_key="k-1"))
    assert waiting.wait(10)
    client.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], PushOutcomeUnknown)


def test_core_stop_during_a_long_retry_after_takes_seconds_not_minutes(tmp_path, db):
    waiting = threading.Event()
    settings = Settings(tmp_path / "settings.json", environ={})
    clients: list[CodatClient] = []

    def client_factory() -> CodatClient:
        client = CodatClient("key", "http://codat.invalid", transport=always(429, {"Retry-After": "110"}),
                             on_wait=lambda reason, seconds: waiting.set())
        clients.append(client)
        return client

    core = Core(settings, db, client_factory=client_factory, listen=False)
    core.start()
    thread, outcome = run_in_thread(lambda: core.pusher.call(COMPANY, lambda: core.client().get_company(COMPANY)))
    assert waiting.wait(10)
    started = time.monotonic()
    core.stop()
    assert time.monotonic() - started < 5
    thread.join(5)
    assert isinstance(outcome["error"], ClientClosed)
    # A stopped engine starts nothing new, rather than building a pool nobody will join.
    with pytest.raises(EngineClosed):
        core.pusher.pool(COMPANY)
    with pytest.raises(EngineClosed):
        core.pusher.push([1], Cause.user("test"))


def test_batch_counters_lose_nothing_when_many_workers_count_at_once():
    batch = PushBatch(1, total=8 * 5000)
    barrier = threading.Barrier(8)

    def count() -> None:
        barrier.wait()
        for number in range(5000):
            batch.count_sent()
            batch.add_unsent([PushProblem(number, "x")])

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert batch.sent == 40000 and batch.not_sent == 40000


def test_core_stop_cuts_a_push_waiting_for_its_answer_and_the_push_is_recovered_later(tmp_path):
    """Codat took the push but its answer is 40 s late (longer than the client's 30 s timeout): a stop
    returns in seconds, the attempt is left for the lost-answer recovery (not failed, not 'not sent'),
    and the next start settles it under the same key: one push in Codat, the row complete."""
    from sqlmodel import Session, select

    from codatdesk.states import ExpenseStatus
    from codatdesk.store.models import Expense, PushAttempt
    from tests.conftest import wait_until
    from tests.engine_harness import row, started

    with started(tmp_path, push_delay=0.05, push_drop_rate=1.0, push_drop_mode="timeout",
                 stall_seconds=40.0) as h:
        core = h.start_core()
        h.import_rows([row(1)])
        with Session(core.db) as session:
            expense_id = session.exec(select(Expense.id)).one()
        core.push([expense_id])
        wait_until(lambda: core.pusher.in_flight.attempt_ids() and len(h.sandbox.push_operations) == 1,
                   timeout=30, message="the push reached Codat and waits for its answer")
        started_at = time.monotonic()
        h.stop_core()
        assert time.monotonic() - started_at < 5  # was the client's 30 s read timeout
        db = open_database(f"sqlite:///{tmp_path / 'core.sqlite3'}")
        with Session(db) as session:
            attempt = session.exec(select(PushAttempt)).one()
            expense = session.get(Expense, expense_id)
            assert attempt.outcome == "unknown"  # what the lost-answer recovery settles
            assert ExpenseStatus(expense.status) is ExpenseStatus.NOT_PUSHED
            assert "closed before Codat answered" in expense.status_detail
        db.dispose()
        h.sandbox.config.update({"push_drop_rate": 0.0})
        core = h.start_core()  # its first reconciliation resends under the stored key
        wait_until(lambda: core.pusher.resolve_unknown(h.company_id) >= 0 and _status(core, expense_id) in (
            ExpenseStatus.IN_PROGRESS, ExpenseStatus.COMPLETE), timeout=30, message="the push was recovered")
        assert len(h.sandbox.push_operations) == 1  # the same push, never a second one


def _status(core, expense_id):
    from sqlmodel import Session

    from codatdesk.states import ExpenseStatus
    from codatdesk.store.models import Expense

    with Session(core.db) as session:
        return ExpenseStatus(session.get(Expense, expense_id).status)
