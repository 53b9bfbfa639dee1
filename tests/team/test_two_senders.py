"""Two team servers pushing the same expense at once (a deposed server still finishing, or a take-over
racing it): the expense row is locked while its attempt is written, so one POST leaves, never two.

Both engines are held after their claim until the other arrives too (a barrier that gives up after a
few seconds): without the row lock both would find no attempt and both would send.
"""

from __future__ import annotations

import threading

from codatdesk.engine import pusher as pusher_module
from codatdesk.engine.core import Core
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import open_database
from codatdesk.store.history import Cause
from tests.engine_harness import expenses, row, started


def test_two_servers_sending_one_expense_send_it_once(tmp_path, pg_url, monkeypatch):
    with started(tmp_path, push_delay=0.05, seed=3) as h:
        h.database_url = pg_url
        first = h.start_core(listen=False)
        h.import_rows([row(1)])
        first.refresh_reference_data(h.company_id)
        second_db = open_database(pg_url)
        second = Core(Settings(tmp_path / "second.json", environ={}), second_db, listen=False,
                      api_key=lambda: h.sandbox.api_key,
                      webhook_credentials=lambda: WebhookCredentials((), None, None))
        second.settings.update({"codat.base_url": h.server.base_url, "codat.company_id": h.company_id,
                                "codat.connection_id": h.connection_id})
        try:
            meeting = threading.Barrier(2, timeout=3)
            original = pusher_module.has_open_attempt

            def gated(session, expense_id):
                try:
                    meeting.wait()
                except threading.BrokenBarrierError:  # the other one waits for our row lock
                    pass
                return original(session, expense_id)

            monkeypatch.setattr(pusher_module, "has_open_attempt", gated)
            expense_id = expenses(first)[0].id
            batches = [core.pusher.push([expense_id], Cause.user("alice")) for core in (first, second)]
            for batch in batches:
                assert batch.wait(30)
            assert sum(b.sent for b in batches) == 1
            assert S(expenses(first)[0].status) in (S.IN_PROGRESS, S.COMPLETE)
            assert sum(op["dataType"] == "directCosts" for op in h.sandbox.push_operations.values()) == 1
        finally:
            second.stop()
            second_db.dispose()
