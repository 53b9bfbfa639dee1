"""The PushEngine alone: a fake client and the applier's seams as recorders (no sandbox, no sockets)."""

from __future__ import annotations

import datetime as dt

import pytest

from codatdesk.codat import CodatError, CodatNotFound
from codatdesk.engine.pusher import EngineClosed, ProblemKind, PushEngine
from codatdesk.events import EventBus
from codatdesk.states import ExpenseStatus
from codatdesk.store.history import Cause
from codatdesk.store.models import utcnow
from tests.unit.support import (
    COMPANY,
    CONNECTION,
    Recorder,
    add_attempt,
    add_expense,
    add_operation,
)


class FakeClient:
    def __init__(self, *, connection_status: str = "Linked", operation: dict | Exception | None = None) -> None:
        self.connection_status = connection_status
        self.operation = operation

    def get_connection(self, company_id: str, connection_id: str) -> dict:
        return {"id": connection_id, "status": self.connection_status, "platformName": "Xero"}

    def list_connections(self, company_id: str, **kwargs) -> list[dict]:
        return [{"id": CONNECTION, "status": self.connection_status, "sourceType": "Accounting"}]

    def get_push_operation(self, company_id: str, key: str) -> dict:
        if isinstance(self.operation, Exception):
            raise self.operation
        return self.operation


@pytest.fixture
def make(db):
    engines: list[PushEngine] = []

    def build(client: FakeClient, *, connection: str | None = CONNECTION) -> PushEngine:
        engine = PushEngine(db, EventBus(), lambda: client, connection_for=lambda company_id: connection,
                            key_stored=Recorder(), submit_result=Recorder(), reasons_unavailable=Recorder(),
                            operation_gone=Recorder())
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.shutdown()


def kinds(problems) -> dict[int, set[ProblemKind]]:
    found: dict[int, set[ProblemKind]] = {}
    for problem in problems:
        found.setdefault(problem.expense_id, set()).add(problem.kind)
    return found


def test_check_explains_state_connection_and_open_attempts_before_anything_is_sent(db, make):
    done = add_expense(db, reference="done", status=ExpenseStatus.COMPLETE)
    unknown = add_expense(db, reference="unknown", status=ExpenseStatus.OUTCOME_UNKNOWN)
    open_attempt = add_expense(db, reference="open")
    add_attempt(db, open_attempt, outcome="unknown")
    engine = make(FakeClient())
    found = kinds(engine.check([done, unknown, open_attempt, 999]))
    assert found[done] == {ProblemKind.STATE} and found[unknown] == {ProblemKind.STATE}
    assert found[open_attempt] == {ProblemKind.STATE} and found[999] == {ProblemKind.STATE}
    # The user accepted the duplicate risk: an outcome-unknown expense is no longer held back for its state.
    assert ProblemKind.STATE not in kinds(engine.check([unknown], again_anyway=True)).get(unknown, set())


def test_a_connection_that_is_not_linked_blocks_the_push(db, make):
    expense_id = add_expense(db)
    found = kinds(make(FakeClient(connection_status="Unlinked")).check([expense_id]))
    assert ProblemKind.CONNECTION in found[expense_id]
    found = kinds(make(FakeClient(), connection=None).check([expense_id]))
    assert ProblemKind.CONNECTION in found[expense_id]


def test_details_read_from_codat_go_to_the_applier(db, make):
    add_operation(db, "k1", add_expense(db))
    engine = make(FakeClient(operation={"pushOperationKey": "k1", "status": "Failed", "dataType": "directCosts",
                                        "validation": {"errors": [{"message": "bad account"}]}}))
    engine.fetch_details_now(COMPANY, "k1")
    [(company_id, result, cause)] = engine.submit_result.calls
    assert (company_id, result.key, result.status, result.validation_errors) == (
        COMPANY, "k1", "Failed", [{"message": "bad account"}])
    assert cause == Cause.reconciliation("k1")


def test_codat_unreachable_tells_the_rows_their_reasons_are_not_fetched(db, make):
    add_operation(db, "k2", add_expense(db))
    engine = make(FakeClient(operation=CodatError("down", status=503)))
    with pytest.raises(CodatError):
        engine.fetch_details_now(COMPANY, "k2")
    assert engine.reasons_unavailable.calls == [(COMPANY, "k2", "Codat answered 503")]


def test_a_key_codat_does_not_know_is_given_up_only_once_old(db, make):
    add_operation(db, "young", add_expense(db, reference="y"))
    add_operation(db, "old", add_expense(db, reference="o"), requested_at=utcnow() - dt.timedelta(hours=2))
    engine = make(FakeClient(operation=CodatNotFound("no such push", status=404)))
    engine.fetch_details_now(COMPANY, "young")
    engine.fetch_details_now(COMPANY, "old")
    assert engine.operation_gone.calls == [(COMPANY, "old")]
    assert engine.submit_result.calls == []


def test_a_shut_down_engine_refuses_new_work(db, make):
    engine = make(FakeClient())
    assert engine.call(COMPANY, lambda: "ran") == "ran"
    engine.shutdown()
    with pytest.raises(EngineClosed):
        engine.pool(COMPANY)
    with pytest.raises(EngineClosed):
        engine.push([add_expense(db)], Cause.user("test"))
