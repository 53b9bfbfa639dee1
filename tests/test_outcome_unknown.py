"""Ledger-true pushes (#12): a TimedOut push is "Outcome unknown" and never sent again by itself;
a Failed push never loses Codat's reasons. The core against the sandbox, over loopback."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.states import ExpenseStatus as S
from codatdesk.states import Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Expense, PushOperation, StatusChange
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started, statuses


@pytest.fixture
def harness(tmp_path):
    with started(tmp_path, push_delay=0.05, seed=3) as h:
        yield h




def history(core, expense_id: int) -> list[StatusChange]:
    with Session(core.db) as session:
        return list(session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)
                                 .order_by(StatusChange.id)))


def pushes_seen_by_codat(harness) -> int:
    return sum(1 for op in harness.sandbox.push_operations.values() if op["dataType"] == "directCosts")


def reconcile(core) -> None:
    runs = core.reconciler.run_soon()
    assert core.reconciler.wait_for_run(runs, 15), "a reconciliation run"
    core.wait_idle()


def timed_out_expense(harness):
    core = harness.start_core()
    harness.import_rows([row(1, note=" [sandbox:timeout]")])  # the sandbox ends this push TimedOut
    (expense,) = expenses(core)
    assert core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.OUTCOME_UNKNOWN], 10, message="outcome unknown")
    assert harness.sandbox.wait_idle(10)
    core.wait_idle()
    return core, expenses(core)[0]


def test_a_timed_out_push_is_outcome_unknown_and_no_ordinary_push_sends_it_again(harness):
    core, expense = timed_out_expense(harness)
    assert "may still have been written" in expense.status_detail and "twice" in expense.status_detail
    sent = pushes_seen_by_codat(harness)

    batch = core.retry_failed()  # "Retry failed" leaves it alone
    assert batch.wait(10) and batch.total == 0 and batch.sent == 0
    batch = core.push([expense.id])  # so does an ordinary push of the row itself
    assert batch.wait(10) and batch.sent == 0
    assert [p.expense_id for p in batch.problems] == [expense.id]
    assert "Push again anyway" in batch.problems[0].reason and "duplicate" in batch.problems[0].reason
    with session_scope(core.db) as session, pytest.raises(Exception, match="cannot apply"):
        change_status(session, session.get(Expense, expense.id), Trigger.RESET, Cause.user())  # nor a reset
    core.wait_idle()
    assert pushes_seen_by_codat(harness) == sent
    assert statuses(core) == [S.OUTCOME_UNKNOWN]


def _land_late(harness, key: str) -> None:
    """What Codat documents: the write that timed out reached the ledger after all (no webhook says so)."""
    state = harness.sandbox.state
    with state.lock:
        record = state.push_operations[key]
        record.status, record.status_code, record.record_id, record.error_message = "Success", 200, "dc-late", None


def test_reconciliation_finds_the_late_success_of_a_timed_out_push(harness):
    core, expense = timed_out_expense(harness)
    reconcile(core)  # Codat still says TimedOut: nothing changes, nothing is written again
    assert statuses(core) == [S.OUTCOME_UNKNOWN]
    changes = len(history(core, expense.id))
    _land_late(harness, expense.push_operation_key)
    reconcile(core)
    assert statuses(core) == [S.COMPLETE]
    last = history(core, expense.id)[-1]
    assert len(history(core, expense.id)) == changes + 1
    assert (last.from_status, last.to_status, last.trigger, last.cause_kind, last.cause_ref) == (
        "Outcome unknown", "Push complete", "Success", "reconciliation", expense.push_operation_key)
    with Session(core.db) as session:
        assert session.get(PushOperation, expense.push_operation_key).record_id == "dc-late"


def test_push_again_anyway_sends_it_and_records_that_the_user_took_the_risk(harness):
    core, expense = timed_out_expense(harness)
    sent = pushes_seen_by_codat(harness)
    assert core.check_pushable([expense.id], again_anyway=True) == []
    batch = core.push_again_anyway([expense.id], user="alice")
    assert batch.wait(10) and batch.sent == 1 and not batch.problems
    assert pushes_seen_by_codat(harness) == sent + 1
    anyway = [h for h in history(core, expense.id) if h.trigger == Trigger.PUSH_SENT_ANYWAY.value]
    assert len(anyway) == 1
    assert (anyway[0].from_status, anyway[0].to_status, anyway[0].cause_kind, anyway[0].cause_ref) == (
        "Outcome unknown", "Push in progress", "user", "alice")
    assert "duplicate" in anyway[0].detail
    # "Push again anyway" is for outcome-unknown rows only.
    harness.import_rows([row(2)])
    other = expenses(core)[-1]
    assert "only for expenses whose outcome is unknown" in core.check_pushable([other.id], again_anyway=True)[0].reason


class FlakyPushReads(httpx.HTTPTransport):
    """Codat down for GET /push/{key} while ``down`` is set (longer than the client's retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()
        self.refused = 0

    def handle_request(self, request):
        if self.down.is_set() and request.method == "GET" and "/push/" in request.url.path:
            self.refused += 1
            raise httpx.ConnectError("Codat is down", request=request)
        return super().handle_request(request)


def test_reasons_that_could_not_be_fetched_are_fetched_by_the_next_reconciliation(harness):
    core = harness.start_core()
    transport = FlakyPushReads()
    core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url,
                                               transport=transport, sleep=lambda s: None)
    core.reset_client()
    # Codat: Failed. 091 stops being a bank account after codatdesk read the ledger (an unknown payment
    # account would be blocked before sending, #12).
    harness.import_rows([row(1, bank="091")])
    harness.close_bank_account_after_reading("091")
    (expense,) = expenses(core)
    transport.down.set()
    assert core.push([expense.id]).wait(10)
    # The webhook says Failed (no reasons); fetching them fails: the row says so, not "fetching…" forever.
    wait_until(lambda: "could not be fetched yet" in expenses(core)[0].status_detail, 15,
               message="the row says the reasons could not be fetched")
    assert transport.refused > 0
    (expense,) = expenses(core)
    assert S(expense.status) is S.FAILED and "fetched again" in expense.status_detail
    reconcile(core)  # still down: still says so
    assert "could not be fetched yet" in expenses(core)[0].status_detail

    transport.down.clear()
    reconcile(core)
    (expense,) = expenses(core)
    assert "is not a bank account" in expense.status_detail and "could not be fetched" not in expense.status_detail
    with Session(core.db) as session:
        op = session.get(PushOperation, expense.push_operation_key)
    assert op.has_reasons and op.validation_errors_json
    assert [h.to_status for h in history(core, expense.id)] == ["Push in progress", "Push failed"]
    # Once they are there, reconciliation does not ask again.
    refused_before = transport.refused
    transport.down.set()
    reconcile(core)
    assert transport.refused == refused_before


def test_reasons_lost_to_a_dead_process_are_fetched_after_a_restart(harness):
    core = harness.start_core()
    harness.import_rows([row(1, bank="091")])
    harness.close_bank_account_after_reading("091")  # Codat refuses it: no longer a bank account
    (expense,) = expenses(core)
    # The process dies right after the applier stored Failed, before the reasons were fetched: build
    # that state from a real push (the webhook disabled), then apply a Failed without details by hand.
    harness.sandbox.config.drop_share = 1.0
    assert core.push([expense.id]).wait(10)
    assert harness.sandbox.wait_idle(10)
    harness.stop_core()
    from codatdesk.store.db import open_database
    from tests.store_kind import database_url

    db = open_database(database_url(harness.tmp / "core.sqlite3"))  # the harness's store, SQLite or PostgreSQL
    with session_scope(db) as session:
        dead = session.get(Expense, expense.id)
        op = session.get(PushOperation, dead.push_operation_key)
        assert op.status == "Pending" and not op.has_reasons
        op.status = "Failed"
        session.add(op)
        change_status(session, dead, Trigger.RESULT_FAILED, Cause.webhook("msg_dead"),
                      detail="Codat rejected this expense; fetching the reasons…")
    db.dispose()
    harness.sandbox.config.drop_share = 0.0
    core = harness.start_core()  # start-up reconciliation fetches what was never fetched
    wait_until(lambda: "is not a bank account" in expenses(core)[0].status_detail, 15, message="reasons after restart")
    assert S(expenses(core)[0].status) is S.FAILED


# --- the command line ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_retry_failed_skips_outcome_unknown_and_again_anyway_names_the_risk(harness, monkeypatch, capsys,
                                                                                 tmp_path):
    from codatdesk.cli import main
    from codatdesk.settings import Settings

    sb = harness.sandbox
    monkeypatch.setenv("CODATDESK_API_KEY", sb.api_key)
    Settings().update({"codat.base_url": harness.server.base_url, "codat.company_id": sb.company_id,
                       "codat.connection_id": sb.connection_id, "listener.port": _free_port()})
    csv = tmp_path / "one.csv"
    csv.write_text("date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,"
                   "currency,reference\n" + row(1, supplier="Staples", note=" [sandbox:timeout]") + "\n", encoding="utf-8")
    assert main(["import", str(csv), "--company", sb.company_id]) == 0
    assert main(["push", "--all-ready", "--wait-timeout", "30"]) == 1
    out = capsys.readouterr()
    assert "Outcome unknown" in out.out and "may still reach the ledger" in out.err
    sent = pushes_seen_by_codat(harness)

    assert main(["push", "--retry-failed", "--no-wait"]) == 0
    out = capsys.readouterr()
    assert "1 expense(s) of unknown outcome are not retried" in out.err and "nothing to push" in out.out
    assert main(["push", "1", "--no-wait"]) == 1
    assert "Push again anyway" in capsys.readouterr().err
    assert main(["push", "--again-anyway", "--retry-failed", "1"]) == 2
    assert pushes_seen_by_codat(harness) == sent

    assert main(["push", "--again-anyway", "1", "--no-wait"]) == 0
    err = capsys.readouterr().err
    assert "duplicate" in err and "may still reach the ledger" in err
    assert pushes_seen_by_codat(harness) == sent + 1
