"""Around a successful push: one sync per bulk batch (when it has ended), the on-premise
``timeoutInMinutes``, and Codat's warnings on a success, against the sandbox over loopback."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.engine import core as core_module
from codatdesk.integrations import ON_PREMISE_TIMEOUT_MINUTES, QUICKBOOKS_DESKTOP
from codatdesk.sandbox import SandboxConfig
from codatdesk.sandbox.state import PushRecord
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import StatusChange
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses, row, statuses

WARNING = {"itemId": "LineItems[0].TaxRateRef", "message": "The tax rate was rounded by the ledger",
           "validatorName": "TaxRate"}


class Recording(httpx.HTTPTransport):
    """Every request codatdesk sends, and what the sandbox held when a sync was queued."""

    def __init__(self, sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.requests: list[httpx.Request] = []
        self.pending_at_sync: list[int] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            if "/data/queue/" in request.url.path:
                self.pending_at_sync.append(sum(op["status"] == "Pending"
                                                for op in self.sandbox.push_operations.values()))
        return super().handle_request(request)

    def pushes(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.path.endswith("/push/directCosts")]

    def syncs(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/data/queue/" in r.url.path]

    def push_reads(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "GET" and "/push/" in r.url.path]


@pytest.fixture
def harness(tmp_path, monkeypatch):
    h = Harness(tmp_path, SandboxConfig(push_delay=0.2, seed=3, shuffle=True))
    h.start_sandbox()
    recording = Recording(h.sandbox)
    real = core_module.CodatClient
    monkeypatch.setattr(core_module, "CodatClient",
                        lambda key, base_url, **kw: real(key, base_url, transport=recording, **kw))
    h.recording = recording
    yield h
    h.stop()


def _push_and_finish(h: Harness, ids: list[int]) -> None:
    batch = h.core.push(ids)
    assert batch.wait(30) and not batch.problems
    wait_until(lambda: all(S(e.status).is_final for e in expenses(h.core) if e.id in ids), 30,
               message="every push final")
    h.core.wait_idle()


def test_a_bulk_push_syncs_once_after_its_last_push_ended(harness):
    core = harness.start_core()
    harness.import_rows([row(i) for i in range(4)] + [row(9, note=" [sandbox:timeout]")])
    _push_and_finish(harness, [e.id for e in expenses(core)])
    rec = harness.recording
    assert len(rec.pushes()) == 5
    assert {r.url.params.get("allowSyncOnPushComplete") for r in rec.pushes()} == {"false"}
    wait_until(lambda: rec.syncs(), 10, message="the sync")
    core.wait_idle()
    assert [r.url.path.rsplit("/", 1)[-1] for r in rec.syncs()] == ["directCosts"]  # one, for the data type
    assert rec.pending_at_sync == [0]  # queued once every push had ended, not when the POSTs were sent
    assert core.pusher.syncs.waiting() == 0


def test_a_single_push_keeps_codats_default_and_queues_nothing(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    _push_and_finish(harness, [e.id for e in expenses(core)])
    rec = harness.recording
    assert len(rec.pushes()) == 1 and "allowSyncOnPushComplete" not in rec.pushes()[0].url.params
    assert rec.syncs() == []


def test_a_bulk_push_that_wrote_nothing_queues_no_sync(harness):
    core = harness.start_core()
    harness.import_rows([row(i, note=" [sandbox:timeout]") for i in range(2)])
    _push_and_finish(harness, [e.id for e in expenses(core)])
    assert statuses(core) == [S.OUTCOME_UNKNOWN, S.OUTCOME_UNKNOWN]
    assert harness.recording.syncs() == []


def test_an_on_premise_ledger_gets_a_default_timeout(harness):
    data = harness.sandbox.state.company(harness.sandbox.company_id)
    with harness.sandbox.state.lock:
        data.connections[harness.sandbox.connection_id]["integrationKey"] = QUICKBOOKS_DESKTOP
    core = harness.start_core()
    harness.import_rows([row(1)])
    _push_and_finish(harness, [e.id for e in expenses(core)])
    assert harness.recording.pushes()[0].url.params["timeoutInMinutes"] == str(ON_PREMISE_TIMEOUT_MINUTES)


def test_the_users_timeout_wins_and_a_cloud_ledger_gets_none(harness):
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    ids = [e.id for e in expenses(core)]
    _push_and_finish(harness, ids[:1])
    core.settings.update({"push.timeout_in_minutes": 7})
    _push_and_finish(harness, ids[1:])
    first, second = harness.recording.pushes()
    assert "timeoutInMinutes" not in first.url.params and second.url.params["timeoutInMinutes"] == "7"


def test_codats_warnings_on_a_success_are_kept_and_shown(harness, monkeypatch):
    real = PushRecord.to_json

    def with_warning(record: PushRecord) -> dict:
        body = real(record)
        if record.status == "Success":
            body["validation"]["warnings"] = [WARNING]
        return body

    monkeypatch.setattr(PushRecord, "to_json", with_warning)
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    ids = [e.id for e in expenses(core)]
    _push_and_finish(harness, ids)
    wait_until(lambda: all("rounded" in (e.status_detail or "") for e in expenses(core)), 10,
               message="the warnings on the rows")
    assert statuses(core) == [S.COMPLETE, S.COMPLETE]
    # The webhook carries no warnings: one read of each push operation, no more.
    assert len(harness.recording.push_reads()) == 2
    e = expenses(core)[0]
    assert e.status_detail.startswith("In the ledger; Codat warned: The tax rate was rounded by the ledger")
    with Session(core.db) as session:
        success = session.exec(select(StatusChange).where(
            StatusChange.expense_id == e.id, StatusChange.to_status == S.COMPLETE.value)).one()
    assert "rounded" in success.detail

    from codatdesk.ui.details_pane import render_html

    html = render_html(core.expense_details(e.id), False)
    assert "Codat&#x27;s warnings" in html or "Codat's warnings" in html
    assert html.count("The tax rate was rounded by the ledger") >= 2  # the row's detail and the operation's list
