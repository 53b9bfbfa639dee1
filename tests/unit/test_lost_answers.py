"""LostAnswerRecovery alone: a fake client at its seam, recorders for the applier's, a real store."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from codatdesk.codat import CodatError, PushOutcomeUnknown
from codatdesk.engine.lost_answers import InFlight, LostAnswerRecovery
from codatdesk.events import EventBus
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense, PushAttempt, utcnow
from tests.unit.support import COMPANY, CONNECTION, Recorder, add_attempt, add_expense


def operation(key: str, status: str, requested_at: dt.datetime, record_id: str | None = None) -> dict:
    changes = [{"type": "Created", "recordRef": {"id": record_id, "dataType": "directCosts"}}] if record_id else None
    return {"pushOperationKey": key, "status": status, "dataType": "directCosts", "changes": changes,
            "requestedOnUtc": requested_at.isoformat().replace("+00:00", "Z"), "statusCode": 200}


class FakeClient:
    def __init__(self, *, resend=None, history=(), records=None) -> None:
        self.resend = resend  # a dict to answer, or an exception to raise
        self.history = list(history)
        self.records = records or {}
        self.resent: list[str] = []

    def push_direct_cost(self, company_id, connection_id, body, *, timeout_in_minutes, idempotency_key, resend):
        assert resend and (company_id, connection_id) == (COMPANY, CONNECTION)
        self.resent.append(idempotency_key)
        if isinstance(self.resend, Exception):
            raise self.resend
        return self.resend

    def list_push_operations(self, company_id, query):
        return self.history

    def get_direct_cost(self, company_id, connection_id, record_id):
        return self.records[record_id]


@pytest.fixture
def make(db):
    def build(client: FakeClient) -> tuple[LostAnswerRecovery, Recorder, Recorder, Recorder]:
        key_stored, submitted, fetched = Recorder(), Recorder(), Recorder()
        recovery = LostAnswerRecovery(db, EventBus(), lambda: client, in_flight=InFlight(),
                                      connection_for=lambda company_id: CONNECTION,
                                      timeout_for=lambda session, connection_id: None,
                                      key_stored=key_stored, submit_result=submitted, fetch_details=fetched)
        recovery.unknown_grace = dt.timedelta(0)
        return recovery, key_stored, submitted, fetched
    return build


def attempt_row(db, attempt_id: int) -> PushAttempt:
    with Session(db) as session:
        return session.get(PushAttempt, attempt_id)


def expense_row(db, expense_id: int) -> Expense:
    with Session(db) as session:
        return session.get(Expense, expense_id)


def test_a_resend_under_the_same_key_is_authoritative(db, make):
    expense_id = add_expense(db)
    attempt_id = add_attempt(db, expense_id, key="idem-7")
    client = FakeClient(resend=operation("k-7", "Success", utcnow(), record_id="dc-7"))
    recovery, key_stored, submitted, fetched = make(client)

    assert recovery.resolve_unknown(COMPANY) == 1
    assert client.resent == ["idem-7"]
    assert attempt_row(db, attempt_id).outcome == "resolved"
    assert expense_row(db, expense_id).status is ExpenseStatus.IN_PROGRESS
    assert key_stored.calls == [("k-7",)]
    assert [(c[0], c[1].key, c[1].status) for c in submitted.calls] == [(COMPANY, "k-7", "Success")]
    assert fetched.calls == []  # a final answer needs no second read


def test_a_pending_replay_is_read_again(db, make):
    add_attempt(db, add_expense(db))
    recovery, _, _, fetched = make(FakeClient(resend=operation("k-8", "Pending", utcnow())))
    recovery.resolve_unknown(COMPANY)
    assert fetched.calls == [(COMPANY, "k-8")]


def test_a_refusal_under_the_same_key_means_nothing_was_written(db, make):
    expense_id = add_expense(db)
    attempt_id = add_attempt(db, expense_id)
    refusal = CodatError("bad request", status=400, processed=False)
    recovery, key_stored, _, _ = make(FakeClient(resend=refusal))
    assert recovery.resolve_unknown(COMPANY) == 1
    assert attempt_row(db, attempt_id).outcome == "rejected"
    assert expense_row(db, expense_id).status is ExpenseStatus.FAILED
    assert key_stored.calls == []


def test_past_the_window_a_lone_operation_in_the_attempts_window_is_adopted(db, make):
    now = utcnow()
    expense_id = add_expense(db)
    attempt_id = add_attempt(db, expense_id, started_at=now - dt.timedelta(minutes=2), finished_at=now)
    client = FakeClient(history=[operation("k-old", "Failed", now - dt.timedelta(hours=3)),
                                 operation("k-mine", "Failed", now - dt.timedelta(minutes=1))])
    recovery, key_stored, _, _ = make(client)
    recovery.idempotency_window = dt.timedelta(0)  # as if Codat had forgotten the key
    assert recovery.resolve_unknown(COMPANY) == 1
    assert client.resent == []
    assert attempt_row(db, attempt_id).push_operation_key == "k-mine"
    assert key_stored.calls == [("k-mine",)]


def test_concurrent_attempts_are_told_apart_by_reading_the_direct_costs_back(db, make):
    now = utcnow()
    first = add_expense(db, total="10.00", reference="A")
    second = add_expense(db, total="20.00", reference="B")
    attempts = {expense_id: add_attempt(db, expense_id, key=None, started_at=now - dt.timedelta(minutes=2),
                                        finished_at=now) for expense_id in (first, second)}
    records = {"dc-b": {"totalAmount": "20.00", "currency": "GBP", "issueDate": "2024-03-01T00:00:00",
                        "reference": "B", "note": "Taxi"},
               "dc-a": {"totalAmount": "10.00", "currency": "GBP", "issueDate": "2024-03-01T00:00:00",
                        "reference": "A", "note": "Taxi"}}
    client = FakeClient(history=[operation("k-b", "Success", now - dt.timedelta(seconds=90), "dc-b"),
                                 operation("k-a", "Success", now - dt.timedelta(seconds=60), "dc-a")],
                        records=records)
    recovery, _, _, _ = make(client)
    assert recovery.resolve_unknown(COMPANY) == 2
    assert attempt_row(db, attempts[first]).push_operation_key == "k-a"
    assert attempt_row(db, attempts[second]).push_operation_key == "k-b"


def test_an_attempt_with_nothing_in_the_history_never_reached_codat(db, make):
    expense_id = add_expense(db)
    attempt_id = add_attempt(db, expense_id, key=None, finished_at=utcnow())
    recovery, key_stored, _, _ = make(FakeClient(history=[]))
    assert recovery.resolve_unknown(COMPANY) == 1
    assert attempt_row(db, attempt_id).outcome == "not_sent"
    assert "never reached Codat" in expense_row(db, expense_id).status_detail
    assert expense_row(db, expense_id).status is ExpenseStatus.NOT_PUSHED and key_stored.calls == []


def test_a_resend_lost_again_falls_back_to_the_history(db, make):
    now = utcnow()
    attempt_id = add_attempt(db, add_expense(db), started_at=now - dt.timedelta(minutes=1))
    lost = PushOutcomeUnknown("lost again", company_id=COMPANY, connection_id=CONNECTION, data_type="directCosts",
                              started_at=now, idempotency_key="idem-1", cause=CodatError("timeout"))
    client = FakeClient(resend=lost, history=[operation("k-h", "Success", now - dt.timedelta(seconds=30))])
    recovery, _, _, _ = make(client)
    recovery.resolve_unknown(COMPANY)
    assert client.resent == ["idem-1"]
    assert attempt_row(db, attempt_id).push_operation_key == "k-h"


def test_an_attempt_being_sent_now_is_no_orphan(db, make):
    expense_id = add_expense(db)
    old = utcnow() - dt.timedelta(hours=1)
    mine = add_attempt(db, expense_id, outcome="sending", started_at=old)
    theirs = add_attempt(db, add_expense(db, reference="R2"), outcome="sending", started_at=old)
    recovery, _, _, _ = make(FakeClient())
    with recovery.in_flight.sending(mine, COMPANY, "directCosts"):
        assert recovery.adopt_orphans(COMPANY) == 1
    assert attempt_row(db, mine).outcome == "sending" and attempt_row(db, theirs).outcome == "unknown"
