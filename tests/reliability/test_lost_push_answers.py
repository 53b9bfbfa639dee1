"""Lost push answers: 30 % of push answers (directCosts and accounts) are dropped AFTER the push
took effect. With the Idempotency-Key stored with each attempt, every lost answer is asked for
again under the same key: no record is in the ledger twice, no account is created twice, and
after one reconciliation cycle no attempt is left waiting."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense, PushAttempt
from tests.conftest import wait_until
from tests.engine_harness import Harness, row
from tests.reliability.support import Stopwatch, report, sized

pytestmark = pytest.mark.reliability

EXPENSES = sized(40, 300)
NEW_ACCOUNTS = {"781": "Cloud Hosting", "782": "Conferences", "783": "Books"}


@pytest.fixture
def rig(data_dir):
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=21, push_drop_rate=0.3))
    h.start_sandbox()
    yield h
    h.stop()


def test_dropped_push_answers_leave_no_duplicate_and_no_open_attempt(rig):
    watch = Stopwatch()
    core = rig.start_core()
    core._client_factory = lambda: CodatClient(rig.sandbox.api_key, rig.server.base_url, backoff_base=0.02)
    core.reset_client()
    codes = list(NEW_ACCOUNTS)
    rig.import_rows([row(i, account=codes[i % 3], name=NEW_ACCOUNTS[codes[i % 3]]) if i % 5 == 0 else row(i)
                     for i in range(EXPENSES)])
    with Session(core.db) as session:
        ids = [e.id for e in session.exec(select(Expense))]
    batch = core.push(ids)
    assert batch.wait(120) and not batch.problems
    assert rig.sandbox.wait_idle(60)
    core.wait_idle()
    runs = core.reconciler.runs
    core.reconcile_now()  # one reconciliation cycle
    assert core.reconciler.wait_for_run(runs, 60)
    assert rig.sandbox.wait_idle(60)
    wait_until(lambda: core.wait_idle(0.2), 30, message="applier idle")

    with Session(core.db) as session:
        open_attempts = session.exec(select(PushAttempt).where(PushAttempt.outcome.in_(("sending", "unknown")))).all()
        attempts = session.exec(select(PushAttempt)).all()
        final = list(session.exec(select(Expense)))
    assert not open_attempts, [(a.id, a.data_type, a.detail) for a in open_attempts]
    assert all(a.idempotency_key and a.request_json for a in attempts)
    sb = rig.sandbox
    assert sb.dropped_push_answers >= EXPENSES // 10, "the knob should have dropped answers"
    assert sb.idempotency.stats.replayed >= sb.dropped_push_answers // 2  # asked again, answered from the cache
    ledger = Counter(cost.get("reference") for cost in sb.ledger(sb.company_id))
    assert not [ref for ref, n in ledger.items() if n > 1], f"in the ledger twice: {ledger.most_common(3)}"
    accounts = Counter(a["nominalCode"] for a in sb.accounts(sb.company_id))
    assert all(accounts[code] == 1 for code in NEW_ACCOUNTS), accounts
    statuses = Counter(S(e.status) for e in final)
    assert statuses == {S.COMPLETE: EXPENSES}, statuses
    assert len(ledger) == EXPENSES
    report("lost_push_answers", expenses=EXPENSES, push_drop_rate=0.3, dropped=sb.dropped_push_answers,
           replayed=sb.idempotency.stats.replayed, attempts=len(attempts), seconds=round(watch.seconds, 1),
           result="passed")
