"""The headless core against the sandbox, over real loopback sockets."""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import Session, select

from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense, PushOperation, StatusChange, WebhookDelivery
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses, row, statuses


def all_final(core) -> bool:
    return all(s.is_final for s in statuses(core))


def test_fifty_expenses_reach_their_true_states(harness):
    core = harness.start_core()
    rows = []
    for i in range(50):
        if i % 10 == 3:
            rows.append(row(i, bank="091"))  # closed in the ledger after codatdesk read it -> Codat: Failed
        elif i % 10 == 7:
            rows.append(row(i, note=" [sandbox:timeout]"))  # sandbox hook -> TimedOut
        else:
            rows.append(row(i))
    harness.import_rows(rows)
    ids = [e.id for e in expenses(core)]
    # codatdesk's copy of the ledger says 091 is a bank account; then the ledger changes it, so only
    # Codat can tell (an unknown payment account is blocked before sending: test_reference_rules.py).
    harness.close_bank_account_after_reading("091")
    batch = core.push(ids)
    assert batch.wait(30) and not batch.problems
    wait_until(lambda: all_final(core), 30, message="every expense final")
    core.wait_idle()
    wait_until(lambda: all(e.status_detail and "fetching" not in e.status_detail
                           for e in expenses(core) if S(e.status) is S.FAILED), 10, message="failure details")
    by_status = {}
    for e in expenses(core):
        by_status.setdefault(S(e.status), []).append(e)
    assert len(by_status[S.COMPLETE]) == 40
    assert len(by_status[S.FAILED]) == 5 and len(by_status[S.OUTCOME_UNKNOWN]) == 5
    for e in by_status[S.FAILED]:
        assert "is not a bank account" in e.status_detail
        with Session(core.db) as session:
            op = session.get(PushOperation, e.push_operation_key)
        assert op.status == "Failed" and json.loads(op.validation_errors_json)
    # The sandbox's ledger holds each successful expense exactly once.
    references = [dc.get("reference") for dc in harness.sandbox.ledger(harness.sandbox.company_id)]
    assert len(references) == len(set(references)) == 40


def test_history_records_every_change_with_its_cause(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE], 10)
    with Session(core.db) as session:
        history = session.exec(select(StatusChange).order_by(StatusChange.id)).all()
        delivery = session.exec(select(WebhookDelivery)).first()
    assert [(h.to_status, h.cause_kind) for h in history] == [("Push in progress", "user"), ("Push complete", "webhook")]
    assert history[1].cause_ref == delivery.delivery_id and delivery.verdict == "applied"
    assert delivery.expense_id == expense.id


def test_dependent_push_creates_the_account_once_for_three_expenses(harness):
    core = harness.start_core()
    harness.import_rows([row(i, account="777", name="Software Subscriptions") for i in range(3)])
    ids = [e.id for e in expenses(core)]
    batch = core.push(ids)
    assert batch.wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE] * 3, 15, message="dependents complete")
    with Session(core.db) as session:
        ops = session.exec(select(PushOperation).where(PushOperation.data_type == "chartOfAccounts")).all()
        history = session.exec(select(StatusChange).where(StatusChange.expense_id == ids[0])
                               .order_by(StatusChange.id)).all()
    assert len(ops) == 1 and ops[0].status == "Success" and ops[0].record_id
    assert [h.to_status for h in history] == ["Waiting", "Push in progress", "Push complete"]
    assert {e.account_id for e in expenses(core)} == {ops[0].record_id}
    created = [a for a in harness.sandbox.accounts(harness.sandbox.company_id) if a.get("nominalCode") == "777"]
    assert len(created) == 1


def test_a_failed_prerequisite_fails_its_dependents_with_the_reason(harness):
    core = harness.start_core()
    # An account name over the sandbox's limits is refused by Codat's validation; the hook is simpler:
    harness.import_rows([row(i, account="778", name="Doomed [sandbox:timeout]") for i in range(2)])
    core.push([e.id for e in expenses(core)]).wait(10)
    wait_until(lambda: statuses(core) == [S.FAILED] * 2, 15, message="dependents failed")
    for e in expenses(core):
        assert "The account 778" in e.status_detail and "not sent" in e.status_detail


def signed_post(harness, body: dict, msg_id: str):
    import datetime as dt

    import httpx
    from standardwebhooks import Webhook

    raw = json.dumps(body).encode()
    now = dt.datetime.now(dt.UTC)
    signature = Webhook(harness.secrets[0]).sign(msg_id, now, raw.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}
    return httpx.post(harness.core.listener_url, content=raw, headers=headers, timeout=5)


def write_event(key: str, status: str = "Success", event_id: str = "evt", company_id: str = "x") -> dict:
    kind = "successful" if status == "Success" else "unsuccessful"
    return {"id": event_id, "eventType": f"directCosts.write.{kind}", "generatedDate": "2026-11-28T10:00:00Z",
            "payload": {"id": key, "type": "Create", "connectionId": "c", "status": status,
                        "requestedOnDate": "2026-11-28T09:59:00Z", "completedOnDate": "2026-11-28T10:00:00Z",
                        "record": {"id": "rec-1"}, "referenceCompany": {"id": company_id, "name": "Test Co"}}}


def delivery(core, msg_id: str) -> WebhookDelivery | None:
    with Session(core.db) as session:
        return session.exec(select(WebhookDelivery).where(WebhookDelivery.delivery_id == msg_id)).first()


def test_a_delivery_that_arrives_before_its_key_is_stored_is_parked_then_applied(harness):
    from codatdesk.states import Trigger
    from codatdesk.store.db import session_scope
    from codatdesk.store.history import Cause, change_status

    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    # Early, for a company this app serves (another company's would be dropped, not parked).
    assert signed_post(harness, write_event("k-early", company_id=expense.company_id), "msg_early").status_code == 200
    wait_until(lambda: (d := delivery(core, "msg_early")) and d.verdict == "parked", 5, message="parked")
    with session_scope(core.db) as session:
        session.add(PushOperation(key="k-early", company_id=expense.company_id, connection_id="c",
                                  data_type="directCosts", expense_id=expense.id))
        change_status(session, session.get(Expense, expense.id), Trigger.PUSH_SENT, Cause.user(),
                      push_operation_key="k-early")
    core.applier.key_stored("k-early")
    wait_until(lambda: statuses(core) == [S.COMPLETE], 5, message="applied after the key was stored")
    assert delivery(core, "msg_early").verdict == "applied"


def test_stale_and_duplicate_deliveries_change_nothing(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE], 10)
    key = expenses(core)[0].push_operation_key
    # A late "Failed" for the same key after the final state: recorded as stale.
    assert signed_post(harness, write_event(key, "Failed", "e2"), "msg_late").status_code == 200
    wait_until(lambda: (d := delivery(core, "msg_late")) and d.verdict == "stale", 5, message="stale")
    # The same delivery id again: 200, one row, nothing changes.
    assert signed_post(harness, write_event(key, "Failed", "e2"), "msg_late").status_code == 200
    core.wait_idle()
    assert delivery(core, "msg_late").times_received == 2
    assert statuses(core) == [S.COMPLETE]
    with Session(core.db) as session:
        assert len(session.exec(select(StatusChange)).all()) == 2


def test_a_stored_but_unapplied_delivery_is_applied_once_after_a_restart(harness):
    from codatdesk.states import Trigger
    from codatdesk.store.db import session_scope
    from codatdesk.store.history import Cause, change_status

    core = harness.start_core()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    with session_scope(core.db) as session:
        session.add(PushOperation(key="k-r", company_id=expense.company_id, connection_id="c",
                                  data_type="directCosts", expense_id=expense.id))
        change_status(session, session.get(Expense, expense.id), Trigger.PUSH_SENT, Cause.user(),
                      push_operation_key="k-r")
        # What the listener stored just before the process died, unapplied:
        session.add(WebhookDelivery(delivery_id="msg_crash", event_type="directCosts.write.successful",
                                    body=json.dumps(write_event("k-r")).encode()))
    harness.stop_core()
    core = harness.start_core()
    wait_until(lambda: statuses(core) == [S.COMPLETE], 10, message="applied on restart")
    core.wait_idle()
    with Session(core.db) as session:
        changes = session.exec(select(StatusChange).where(StatusChange.cause_ref == "msg_crash")).all()
    assert len(changes) == 1


def test_dropped_deliveries_are_recovered_by_reconciliation(harness):
    harness.sandbox.config.drop_share = 1.0
    core = harness.start_core()
    harness.import_rows([row(i) for i in range(5)])
    core.push([e.id for e in expenses(core)]).wait(10)
    assert harness.sandbox.wait_idle(10)
    assert statuses(core) == [S.IN_PROGRESS] * 5  # no webhook came
    runs = core.reconciler.run_soon()
    assert core.reconciler.wait_for_run(runs, 10)
    wait_until(lambda: statuses(core) == [S.COMPLETE] * 5, 10, message="reconciled")
    with Session(core.db) as session:
        causes = {h.cause_kind for h in session.exec(select(StatusChange).where(StatusChange.to_status == "Push complete"))}
    assert causes == {"reconciliation"}


def test_a_deauthorized_connection_refuses_pushes_with_a_clear_message(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    harness.sandbox.config.drop_share = 1.0  # a platform-side disconnect may never fire a webhook
    harness.sandbox.set_connection_status(harness.sandbox.company_id, harness.sandbox.connection_id, "Deauthorized")
    (expense,) = expenses(core)
    batch = core.push([expense.id])
    assert batch.wait(10)
    assert [p.expense_id for p in batch.problems] == [expense.id]
    assert "Deauthorized" in batch.problems[0].reason and "reconnect" in batch.problems[0].reason
    assert statuses(core) == [S.NOT_PUSHED]
    assert harness.sandbox.ledger(harness.sandbox.company_id) == []
    # Now the local check knows too, before any request.
    assert "Deauthorized" in core.check_pushable([expense.id])[0].reason


def test_a_chain_survives_a_restart(harness):
    harness.sandbox.config.drop_share = 1.0
    core = harness.start_core()
    harness.import_rows([row(i, account="779", name="Training") for i in range(3)])
    core.push([e.id for e in expenses(core)]).wait(10)
    wait_until(lambda: statuses(core) == [S.WAITING] * 3, 5)
    harness.sandbox.wait_idle(10)  # the account now exists in Codat, its webhook was lost
    harness.stop_core()
    harness.sandbox.config.drop_share = 0.0
    core = harness.start_core()  # start-up reconciliation finds the account push done
    wait_until(lambda: statuses(core) == [S.COMPLETE] * 3, 15, message="chain finished after restart")
    created = [a for a in harness.sandbox.accounts(harness.sandbox.company_id) if a.get("nominalCode") == "779"]
    assert len(created) == 1


def test_a_push_whose_answer_was_lost_is_found_in_codats_history_not_resent(harness):
    import httpx

    from codatdesk.codat import CodatClient

    class LoseAnswers(httpx.HTTPTransport):
        def handle_request(self, request):
            response = super().handle_request(request)
            if request.method == "POST" and "/push/" in request.url.path:
                response.read()
                raise httpx.ReadTimeout("answer lost", request=request)
            return response

    core = harness.start_core()
    core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url,
                                               transport=LoseAnswers(), sleep=lambda s: None)
    core.reset_client()
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE], 15, message="adopted from push history")
    assert len(harness.sandbox.ledger(harness.sandbox.company_id)) == 1
    with Session(core.db) as session:
        history = session.exec(select(StatusChange).order_by(StatusChange.id)).all()
    assert history[0].cause_kind == "reconciliation"


def test_duplicated_and_shuffled_deliveries_apply_each_result_once(harness):
    harness.sandbox.config.duplicate_share = 0.5
    harness.sandbox.config.shuffle = True
    core = harness.start_core()
    harness.import_rows([row(i, bank="091" if i % 4 == 0 else "090") for i in range(20)])
    harness.close_bank_account_after_reading("091")
    core.push([e.id for e in expenses(core)]).wait(20)
    wait_until(lambda: all_final(core), 20, message="all final")
    assert harness.sandbox.wait_idle(10)
    core.wait_idle()
    assert statuses(core).count(S.FAILED) == 5 and statuses(core).count(S.COMPLETE) == 15
    with Session(core.db) as session:
        finals = session.exec(select(StatusChange).where(StatusChange.cause_kind == "webhook")).all()
        duplicates = session.exec(select(WebhookDelivery).where(WebhookDelivery.times_received > 1)).all()
    assert len(finals) == 20  # one final transition per expense, however often Codat delivered
    assert duplicates, "the sandbox should have delivered some messages twice"


def test_connection_webhooks_update_the_connection_live(harness):
    from codatdesk.store.models import Connection

    core = harness.start_core()
    harness.import_rows([row(1)])
    sb = harness.sandbox

    def status():
        with Session(core.db) as session:
            conn = session.get(Connection, sb.connection_id)
            return conn.status if conn else None

    sb.set_connection_status(sb.company_id, sb.connection_id, "Deauthorized")
    wait_until(lambda: status() == "Deauthorized", 10, message="disconnected by webhook")
    (expense,) = expenses(core)
    assert "reconnect" in core.check_pushable([expense.id])[0].reason
    runs = core.reconciler.started  # a run begun after this line
    sb.set_connection_status(sb.company_id, sb.connection_id, "Linked")
    wait_until(lambda: status() == "Linked", 10, message="reconnected by webhook")
    assert core.reconciler.wait_for_run(runs, 10), "a reconnect triggers reconciliation"
    assert core.check_pushable([expense.id]) == []


def test_legacy_rule_webhooks_with_basic_auth_complete_pushes(tmp_path):
    import base64

    h = Harness(tmp_path, SandboxConfig(push_delay=0.05, seed=2, legacy_webhooks=True,
                                        delivery_authorization="Basic " + base64.b64encode(b"codat:s3cret").decode()))
    h.basic = "codat:s3cret"
    h.settings_overrides = {"webhook.require_signature": False, "webhook.authorization": "basic"}
    h.start_sandbox()
    try:
        core = h.start_core()
        h.import_rows([row(1), row(2, bank="091")])
        h.close_bank_account_after_reading("091")
        core.push([e.id for e in expenses(core)]).wait(10)
        wait_until(lambda: statuses(core) == [S.COMPLETE, S.FAILED], 10, message="legacy results applied")
        with Session(core.db) as session:
            events = {d.event_type for d in session.exec(select(WebhookDelivery))}
        assert any("PushOperation" in e or "Push Operation" in e for e in events), events
    finally:
        h.stop()


def test_a_batch_names_each_expense_it_could_not_send_and_why(harness):
    """Past the local checks, what Codat would not take is in ``batch.unsent`` (``codatdesk push`` reports it)."""
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    core.refresh_reference_data()
    core.pusher.verify_connection(harness.sandbox.company_id, harness.sandbox.connection_id)  # recorded: Linked
    core.client().max_retries = 0
    harness.sandbox.config.error_rate = 1.0  # every request: 500 or 503 before doing anything
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(30)
    assert batch.problems == [] and batch.sent == 0 and batch.not_sent == 2
    assert sorted(p.expense_id for p in batch.unsent) == [e.id for e in expenses(core)]
    for problem, expense in zip(sorted(batch.unsent, key=lambda p: p.expense_id), expenses(core), strict=True):
        assert problem.reason == expense.status_detail or problem.reason.startswith("Codat's answer was lost")
    assert harness.sandbox.ledger(harness.sandbox.company_id) == []


class LoseFirstPushAnswers:
    """An httpx transport that lets the first ``n`` push POSTs reach the sandbox and loses their answers."""

    def __init__(self, n: int) -> None:
        import httpx

        self.left = n
        self.inner = httpx.HTTPTransport()
        self.keys: list[str] = []

    def __getattr__(self, name):  # close(), __enter__ ... of the real transport
        return getattr(self.inner, name)

    def handle_request(self, request):
        import httpx

        response = self.inner.handle_request(request)
        if request.method == "POST" and "/push/" in request.url.path:
            self.keys.append(request.headers.get("Idempotency-Key"))
            if self.left > 0:
                self.left -= 1
                response.read()
                raise httpx.ReadTimeout("answer lost", request=request)
        return response


def lossy_client(harness, core, transport):
    import httpx

    from codatdesk.codat import CodatClient

    class Wrapped(httpx.BaseTransport):
        def handle_request(self, request):
            return transport.handle_request(request)

    # max_retries=0: the client gives up at once, so the engine's own resend is what is tested.
    core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url,
                                               transport=Wrapped(), sleep=lambda s: None, max_retries=0)
    core.reset_client()


def test_a_lost_answer_is_asked_again_with_the_same_idempotency_key(harness):
    from codatdesk.store.models import PushAttempt

    core = harness.start_core()
    transport = LoseFirstPushAnswers(1)
    lossy_client(harness, core, transport)
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE], 15, message="complete after the resend")
    sb = harness.sandbox
    assert len(sb.ledger(sb.company_id)) == 1 and len(sb.push_operations) == 1
    assert sb.idempotency.stats.replayed == 1  # Codat's first answer, not a second push
    with Session(core.db) as session:
        (attempt,) = session.exec(select(PushAttempt)).all()
        history = session.exec(select(StatusChange).order_by(StatusChange.id)).all()
    assert transport.keys == [attempt.idempotency_key] * 2 and attempt.outcome == "resolved"
    assert json.loads(attempt.request_json)["reference"] == "REF-1"
    assert "same Idempotency-Key" in history[0].detail and history[0].cause_kind == "reconciliation"


def test_past_codats_window_a_lost_answer_is_matched_to_push_history_instead(harness):
    core = harness.start_core()
    core.pusher.idempotency_window = dt.timedelta(0)  # as if the 90 minutes had passed
    lossy_client(harness, core, LoseFirstPushAnswers(1))
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    core.push([expense.id]).wait(10)
    wait_until(lambda: statuses(core) == [S.COMPLETE], 15, message="adopted from push history")
    assert harness.sandbox.idempotency.stats.replayed == 0
    assert len(harness.sandbox.ledger(harness.sandbox.company_id)) == 1
    with Session(core.db) as session:
        first = session.exec(select(StatusChange).order_by(StatusChange.id)).first()
    assert "push history" in first.detail


def test_a_push_that_reached_codat_before_a_crash_is_settled_with_its_stored_key(harness):
    """The process died after the POST reached Codat and before the answer was stored."""
    import httpx

    from codatdesk import jsonmoney
    from codatdesk.codat.client import new_idempotency_key
    from codatdesk.engine import reference
    from codatdesk.engine.pusher import build_direct_cost
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import PushAttempt

    core = harness.start_core()
    sb = harness.sandbox
    harness.import_rows([row(1)])
    (expense,) = expenses(core)
    reference.refresh(core.db, core.pusher.client(), sb.company_id, sb.connection_id)
    with session_scope(core.db) as session:
        body = build_direct_cost(session.get(Expense, expense.id), reference.Resolver(session, sb.company_id))
        attempt = PushAttempt(company_id=sb.company_id, data_type="directCosts", expense_id=expense.id,
                              idempotency_key=new_idempotency_key(), request_json=jsonmoney.dumps(body).decode(),
                              started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11))
        session.add(attempt)
    # The request the dead process sent: it reached Codat, nobody stored the answer.
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(sb.api_key.encode()).decode(),
            "Idempotency-Key": attempt.idempotency_key, "Content-Type": "application/json"}
    url = f"{harness.server.base_url}/companies/{sb.company_id}/connections/{sb.connection_id}/push/directCosts"
    assert httpx.post(url, content=attempt.request_json.encode(), headers=auth, timeout=5).status_code == 200
    harness.stop_core()
    core = harness.start_core()  # start-up reconciliation: the "sending" attempt is an orphan
    wait_until(lambda: statuses(core) == [S.COMPLETE], 15, message="settled after the restart")
    assert len(sb.ledger(sb.company_id)) == 1 and sb.idempotency.stats.replayed == 1
    with Session(core.db) as session:
        assert session.get(PushAttempt, attempt.id).outcome == "resolved"
