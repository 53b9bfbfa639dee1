import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from codatdesk.states import ExpenseStatus, InvalidTransition, Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Company, Expense, StatusChange


def make_expense(session, **overrides):
    if session.get(Company, "c1") is None:
        session.add(Company(id="c1", name="Client One"))
        session.flush()
    values = dict(company_id="c1", expense_date=dt.date(2026, 11, 2), supplier_name="Rail", account_code="493",
                  bank_account_code="090", net=Decimal("45.00"), tax=Decimal("9.00"), total=Decimal("54.00"),
                  currency="GBP", source_key="k1")
    values.update(overrides)
    expense = Expense(**values)
    session.add(expense)
    session.flush()
    return expense


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_with_a_busy_timeout_and_full_sync(db):
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_migrations_create_every_table_and_record_the_version(db):
    tables = set(inspect(db).get_table_names())
    assert {"expense", "push_operation", "push_attempt", "connection", "company", "webhook_delivery",
            "status_change", "reference_record", "mapping", "alembic_version"} <= tables
    from alembic.script import ScriptDirectory

    from codatdesk.store.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
    assert {c["name"] for c in inspect(db).get_columns("push_attempt")} >= {"idempotency_key", "request_json"}


def test_money_round_trips_exactly(db):
    amounts = [Decimal("0.01"), Decimal("1234567.89"), Decimal("0.105"), Decimal("-12.50"), Decimal("99999999.9999")]
    with session_scope(db) as session:
        for i, amount in enumerate(amounts):
            make_expense(session, source_key=f"k{i}", net=amount, tax=Decimal(0), total=amount)
    with Session(db) as session:
        stored = [e.net for e in session.exec(select(Expense).order_by(Expense.id))]
    assert stored == amounts
    assert all(isinstance(v, Decimal) for v in stored)


def test_money_with_too_many_decimals_is_refused_not_rounded(db):
    with pytest.raises(Exception, match="decimals"):
        with session_scope(db) as session:
            make_expense(session, net=Decimal("1.00001"), tax=Decimal(0), total=Decimal("1.00001"))


def test_money_sorts_numerically_in_sql(db):
    with session_scope(db) as session:
        for i, amount in enumerate(["9.00", "10.00", "100.00", "-5.00"]):
            make_expense(session, source_key=f"s{i}", net=Decimal(amount), tax=Decimal(0), total=Decimal(amount))
    with Session(db) as session:
        totals = [e.total for e in session.exec(select(Expense).order_by(Expense.total))]
    assert totals == [Decimal("-5.00"), Decimal("9.00"), Decimal("10.00"), Decimal("100.00")]


def test_change_status_records_history_with_its_cause(db):
    with session_scope(db) as session:
        expense = make_expense(session)
        change_status(session, expense, Trigger.PUSH_SENT, Cause.user("alice"), push_operation_key="op-1")
        change_status(session, expense, Trigger.RESULT_FAILED, Cause.webhook("msg_1"), detail="bad account")
    with Session(db) as session:
        expense = session.exec(select(Expense)).one()
        history = session.exec(select(StatusChange).order_by(StatusChange.id)).all()
    assert expense.status is ExpenseStatus.FAILED
    assert expense.push_operation_key == "op-1"
    assert expense.status_detail == "bad account"
    assert [(h.from_status, h.to_status, h.cause_kind, h.cause_ref) for h in history] == [
        ("Not pushed", "Push in progress", "user", "alice"),
        ("Push in progress", "Push failed", "webhook", "msg_1"),
    ]


def test_a_forbidden_change_raises_and_writes_nothing(db):
    with session_scope(db) as session:
        expense_id = make_expense(session).id
    with pytest.raises(InvalidTransition):
        with session_scope(db) as session:
            expense = session.get(Expense, expense_id)
            change_status(session, expense, Trigger.RESULT_SUCCESS, Cause.webhook("msg_x"))
    with Session(db) as session:
        assert session.exec(select(StatusChange)).all() == []
        assert session.get(Expense, expense_id).status is ExpenseStatus.NOT_PUSHED


def test_status_is_stored_as_its_text(db):
    with session_scope(db) as session:
        make_expense(session)
    with db.connect() as conn:
        assert conn.execute(text("select status from expense")).scalar() == "Not pushed"


def test_timestamps_come_back_aware_utc(db):
    with session_scope(db) as session:
        make_expense(session)
    with Session(db) as session:
        created = session.exec(select(Expense)).one().created_at
    assert created.tzinfo is not None and created.utcoffset() == dt.timedelta(0)


def test_a_concurrent_write_does_not_queue_behind_this_process_on_postgresql_only(db):
    """``session_scope(concurrent=True)`` (claiming push requests with SKIP LOCKED) goes ahead while another
    thread of the process is in a write transaction on PostgreSQL; on SQLite, which lets one writer in at a
    time, it waits as every write does."""
    import threading

    from codatdesk.store.db import _write_lock

    lock = _write_lock(db)
    entered = threading.Event()

    def write() -> None:
        with session_scope(db, concurrent=True) as session:
            session.add(Company(id="c-concurrent", name="Concurrent"))
        entered.set()

    with lock:  # as another thread's write transaction holds it
        worker = threading.Thread(target=write)
        worker.start()
        went_ahead = entered.wait(3 if db.dialect.name == "postgresql" else 0.3)
    worker.join(10)
    assert went_ahead is (db.dialect.name == "postgresql")
    assert entered.is_set()
