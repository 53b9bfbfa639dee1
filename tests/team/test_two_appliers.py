"""Two team servers may receive the same delivery (Codat retrying at the other one) or two deliveries of
one push (two consumers): on the shared database each result is applied exactly once.

Both appliers are held after reading (the delivery, the push operation) until the other arrives too (a barrier that gives up
after a few seconds): without row locks both get there and apply; with them the second waits for the
first's commit and finds the work done.
"""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from codatdesk.engine.applier import Applier
from codatdesk.events import EventBus
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.db import open_database
from codatdesk.store.models import Expense, StatusChange, WebhookDelivery
from codatdesk.webhooks import Inbox
from tests.reliability.support import EVENT_COMPANY, seed_expenses, write_event


@pytest.fixture
def two_servers(pg_url):
    engines = [open_database(pg_url) for _ in range(2)]
    yield engines
    for engine in engines:
        engine.dispose()


def _both_at_once(monkeypatch, method: str) -> None:
    meeting = threading.Barrier(2, timeout=3)
    original = getattr(Applier, method)

    def gated(self, *args, **kwargs):
        try:
            meeting.wait()
        except threading.BrokenBarrierError:  # the other one is waiting for our row lock: go on alone
            pass
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Applier, method, gated)


def _run(engines, rows_per_server: list[list[int]]) -> None:
    appliers = [Applier(engine, EventBus()) for engine in engines]
    threads = [threading.Thread(target=applier.apply_deliveries, args=(rows,))
               for applier, rows in zip(appliers, rows_per_server, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def _webhook_changes(engine, expense_id: int) -> list[StatusChange]:
    with Session(engine) as session:
        assert S(session.get(Expense, expense_id).status) is S.COMPLETE
        return list(session.exec(select(StatusChange).where(StatusChange.cause_kind == "webhook",
                                                            StatusChange.expense_id == expense_id)))


def test_the_same_delivery_at_both_servers_is_applied_once(two_servers, monkeypatch):
    [expense_id] = seed_expenses(two_servers[0], EVENT_COMPANY, [{"key": "key-1"}])
    row = Inbox(two_servers[0]).store("msg-1", write_event("key-1", "Success", "evt-1"), {},
                                      "directCosts.write.successful").row_id
    _both_at_once(monkeypatch, "_apply_operation")  # each has read the delivery row
    _run(two_servers, [[row], [row]])
    assert len(_webhook_changes(two_servers[0], expense_id)) == 1
    with Session(two_servers[0]) as session:
        assert session.get(WebhookDelivery, row).verdict == "applied", "the second look did not overwrite it"


def test_two_deliveries_of_one_result_apply_it_once(two_servers, monkeypatch):
    [expense_id] = seed_expenses(two_servers[0], EVENT_COMPANY, [{"key": "key-2"}])
    inbox = Inbox(two_servers[0])
    rows = [inbox.store(f"msg-2-{n}", write_event("key-2", "Success", f"evt-2-{n}"), {},
                        "directCosts.write.successful").row_id for n in (1, 2)]
    _both_at_once(monkeypatch, "_apply_to_expense")  # each has read the push operation
    _run(two_servers, [[rows[0]], [rows[1]]])
    assert len(_webhook_changes(two_servers[0], expense_id)) == 1
