"""Events after commit: what a write transaction registers is published once it commits, and only then."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from codatdesk.events import ConnectionChanged, EventBus, ExpenseChanged
from codatdesk.machines import ConnectionFact
from codatdesk.states import ExpenseStatus, Trigger
from codatdesk.store.connections import FactApplied, record_connection_fact
from codatdesk.store.db import bind_bus, session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Company, Connection, Expense

S = ExpenseStatus


@pytest.fixture
def bus(db):
    bus = EventBus()
    bind_bus(db, bus)
    return bus


def recorded(bus: EventBus) -> list:
    seen: list = []
    bus.subscribe(seen.append)
    return seen


def add_expense(db) -> int:
    with session_scope(db) as session:
        session.add(Company(id="co", name="Co"))
        expense = Expense(company_id="co", expense_date=dt.date(2024, 1, 2), supplier_name="S", account_code="400",
                          net=Decimal("1"), tax=Decimal("0"), total=Decimal("1"), currency="GBP", source_key="k")
        session.add(expense)
        session.flush()
        return expense.id


def test_a_status_change_is_published_after_commit_with_old_new_and_cause(db, bus):
    expense_id = add_expense(db)
    seen = recorded(bus)
    with session_scope(db) as session:
        change_status(session, session.get(Expense, expense_id), Trigger.PUSH_REJECTED, Cause.user("ann"),
                      detail="no")
        assert seen == []  # not before the commit
    assert seen == [ExpenseChanged(expense_id, "co", S.NOT_PUSHED, S.FAILED, "user:ann")]


def test_a_rollback_publishes_nothing(db, bus):
    expense_id = add_expense(db)
    seen = recorded(bus)
    with pytest.raises(RuntimeError), session_scope(db) as session:
        change_status(session, session.get(Expense, expense_id), Trigger.PUSH_REJECTED, Cause.user())
        raise RuntimeError("the write fails after the change was registered")
    with pytest.raises(Exception, match=r"UNIQUE|unique constraint"), session_scope(db) as session:  # the commit fails
        change_status(session, session.get(Expense, expense_id), Trigger.PUSH_REJECTED, Cause.user())
        session.add(Company(id="co", name="the same id again"))
    with session_scope(db) as session:  # the next transaction does not inherit them either
        session.get(Expense, expense_id)
    assert seen == []
    with session_scope(db) as session:
        assert session.get(Expense, expense_id).status is S.NOT_PUSHED


def test_no_expense_event_carries_an_empty_status(db, bus):
    seen = recorded(bus)
    expense_id = add_expense(db)
    with session_scope(db) as session:
        change_status(session, session.get(Expense, expense_id), Trigger.PUSH_REJECTED, Cause.engine())
    assert all(isinstance(e.new, ExpenseStatus) for e in seen if isinstance(e, ExpenseChanged))


# -- one writer of Connection: an older fact never overwrites a newer one ------------------------

def test_a_get_started_before_a_disconnect_webhook_does_not_overwrite_it(db, bus):
    """The race, in order: the engine sends GET (Codat says Linked); Codat generates
    connection.disconnected; the applier stores it; the GET's answer is stored last."""
    from codatdesk.engine.pusher import record_connection

    with session_scope(db) as session:
        session.add(Company(id="co", name="Co"))
        session.add(Connection(id="conn", company_id="co", status="Linked"))
    seen = recorded(bus)
    get_sent = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    webhook_generated = get_sent + dt.timedelta(milliseconds=300)
    with session_scope(db) as session:  # the applier's transaction
        assert record_connection_fact(session, ConnectionFact("conn", "co", "Deauthorized", webhook_generated)) \
            is FactApplied.CHANGED
    assert record_connection(db, "co", {"id": "conn", "status": "Linked"}, get_sent) == "Deauthorized"
    with session_scope(db) as session:
        assert session.get(Connection, "conn").status == "Deauthorized"
    assert seen == [ConnectionChanged("co", "conn", "Deauthorized")]
    # A GET sent after the webhook was generated is newer: a relink it reports is stored.
    assert record_connection(db, "co", {"id": "conn", "status": "Linked"},
                             webhook_generated + dt.timedelta(seconds=1)) == "Linked"
    assert seen[-1] == ConnectionChanged("co", "conn", "Linked")
