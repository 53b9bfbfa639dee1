"""The change feed on a real PostgreSQL: what one process commits, another publishes on its own bus, in commit
order, once; a rollback tells nobody; a desktop cut off from the database catches up when it is back."""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import ExitStack
from decimal import Decimal

import pytest
from sqlalchemy import func, make_url, select, text
from sqlmodel import Session

from codatdesk.engine import edits
from codatdesk.events import EventBus, ExpenseChanged, Notice
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database, session_scope
from codatdesk.store.history import Cause, expense_touched
from codatdesk.store.models import ChangeLogEntry, Expense
from codatdesk.team.change_feed import ChangeFeedListener, feed_writer, latest_seq, listen_for_changes
from tests.conftest import wait_until
from tests.team.tcp_proxy import TcpProxy

COMPANY = "c-team"


def values(n: int) -> dict:
    return {"expense_date": dt.date(2026, 11, 1), "supplier_name": f"Supplier {n}",
            "description": f"expense {n}", "account_code": "400", "bank_account_code": "090", "net": Decimal("10.00"), "tax": Decimal("2.00"),
            "total": Decimal("12.00"), "currency": "GBP", "reference": f"R{n}"}


class Recorder:
    """A bus subscriber that keeps what it heard."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list = []
        self._lock = threading.Lock()
        bus.subscribe(self)

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def stack():
    with ExitStack() as stack:
        yield stack


def engine(stack: ExitStack, url: str):
    eng = open_database(url)
    stack.callback(eng.dispose)
    return eng


def listener(stack: ExitStack, eng, bus: EventBus) -> ChangeFeedListener:
    feed = listen_for_changes(eng, bus)
    assert feed is not None
    stack.callback(feed.stop)
    wait_until(feed.connected.is_set, message="the feed listening")
    return feed


def test_a_change_one_process_commits_is_published_on_another_ones_bus(pg_url, stack):
    server, desktop = engine(stack, pg_url), engine(stack, pg_url)
    desktop_bus = EventBus()
    heard = Recorder(desktop_bus)
    feed = listener(stack, desktop, desktop_bus)

    expense_id = edits.add_expense(server, None, COMPANY, values(1))

    wait_until(lambda: heard.of(ExpenseChanged), message="the added expense on the desktop's bus")
    assert heard.of(ExpenseChanged) == [ExpenseChanged(expense_id, COMPANY, None, ExpenseStatus.NOT_PUSHED, "user:user")]
    assert feed.last_seen == latest_seq(server)


def test_a_process_does_not_hear_its_own_changes_twice(pg_url, stack):
    eng = engine(stack, pg_url)
    bus = EventBus()
    from codatdesk.store.db import bind_bus

    bind_bus(eng, bus)  # the local publication after commit, as in a Core
    heard = Recorder(bus)
    feed = listener(stack, eng, bus)

    edits.add_expense(eng, bus, COMPANY, values(1))
    assert feed.wait_for(latest_seq(eng), timeout=10)
    assert len(heard.of(ExpenseChanged)) == 1


def test_a_rolled_back_transaction_leaves_nothing_in_the_feed(pg_url, stack):
    eng = engine(stack, pg_url)
    expense_id = edits.add_expense(eng, None, COMPANY, values(1))
    before = latest_seq(eng)

    with pytest.raises(RuntimeError), session_scope(eng) as session:
        expense_touched(session, session.get(Expense, expense_id), Cause.user())
        raise RuntimeError("the save failed")

    assert latest_seq(eng) == before


def test_concurrent_writers_are_heard_once_each_in_commit_order(pg_url, stack):
    eng = engine(stack, pg_url)
    writers = [engine(stack, pg_url) for _ in range(4)]
    bus = EventBus()
    heard = Recorder(bus)
    listener(stack, eng, bus)
    expense_ids = [edits.add_expense(writers[0], None, COMPANY, values(n)) for n in range(4)]
    wait_until(lambda: len(heard.of(ExpenseChanged)) == 4, message="the four adds")

    def touch(writer, expense_id) -> None:
        for _ in range(40):
            with session_scope(writer) as session:
                expense_touched(session, session.get(Expense, expense_id), Cause.user(f"writer-{expense_id}"))

    threads = [threading.Thread(target=touch, args=pair) for pair in zip(writers, expense_ids, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    wait_until(lambda: len(heard.of(ExpenseChanged)) == 4 + 160, message="every touch")
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ChangeLogEntry)).scalar() == 164
    causes = [e.cause for e in heard.of(ExpenseChanged)[4:]]
    for expense_id in expense_ids:  # each writer's changes arrive in the order it committed them
        assert causes.count(f"user:writer-{expense_id}") == 40


def test_a_later_writer_waits_for_an_earlier_one_so_no_change_is_skipped(pg_url, stack):
    """Sequence numbers are handed out in commit order: a writer that got its number first commits first,
    else a reader that saw the later number would never look back for the earlier one."""
    first_writer, second_writer, reader = (engine(stack, pg_url) for _ in range(3))
    bus = EventBus()
    heard = Recorder(bus)
    listener(stack, reader, bus)
    expense_id = edits.add_expense(first_writer, None, COMPANY, values(1))
    wait_until(lambda: heard.of(ExpenseChanged), message="the add")

    with Session(first_writer) as open_transaction:  # has its sequence number, not committed yet
        feed_writer(first_writer)(open_transaction, [ExpenseChanged(expense_id, COMPANY, None, None, "user:first")])
        second = threading.Thread(target=lambda: edits.update_expense(second_writer, None, expense_id,
                                                                      {"description": "second"}))
        second.start()
        wait_until(lambda: waiting_for_the_feed_lock(reader), message="the second writer waiting for the first")
        open_transaction.commit()
    second.join()

    wait_until(lambda: len(heard.of(ExpenseChanged)) == 3, message="both changes")
    assert [e.cause for e in heard.of(ExpenseChanged)[1:]] == ["user:first", "user:user"]


def waiting_for_the_feed_lock(eng) -> bool:
    with eng.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
                    .scalar())


def test_a_desktop_cut_off_from_the_database_catches_up_when_it_is_back(pg_url, stack):
    server = engine(stack, pg_url)
    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    stack.callback(proxy.close)
    desktop = engine(stack, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    bus = EventBus()
    heard = Recorder(bus)
    feed = listener(stack, desktop, bus)
    first = edits.add_expense(server, None, COMPANY, values(0))
    wait_until(lambda: heard.of(ExpenseChanged), message="the change before the cut")

    proxy.cut()
    wait_until(lambda: not feed.connected.is_set(), message="the desktop noticing the lost connection")
    assert any("Lost the connection to the team database" in n.message for n in heard.of(Notice))
    missed = [edits.add_expense(server, None, COMPANY, values(n)) for n in range(1, 6)]
    proxy.restore()

    wait_until(lambda: len(heard.of(ExpenseChanged)) == 6, timeout=20, message="the changes made while away")
    assert [e.expense_id for e in heard.of(ExpenseChanged)] == [first, *missed]
    assert any("caught up" in n.message for n in heard.of(Notice))


def test_a_desktop_cut_off_for_longer_than_the_feed_keeps_changes_is_told_to_reopen(db):
    """The server prunes the feed after CHANGES_KEPT_DAYS; a window cut off for longer cannot read it all."""
    from codatdesk.store.retention import CHANGES_KEPT_DAYS

    feed = ChangeFeedListener(db, EventBus())  # not started: only what it says when it is back
    assert feed.back_online_notice(3).level == "info" and "3 change(s) caught up" in feed.back_online_notice(3).message
    feed._heard_at -= CHANGES_KEPT_DAYS * 86400 + 60
    notice = feed.back_online_notice(3)
    assert notice.level == "warning" and "close and open codatdesk" in notice.message


def test_the_embedded_database_has_no_feed(db):
    assert listen_for_changes(db, EventBus()) is None
    edits.add_expense(db, None, COMPANY, values(1))
    assert latest_seq(db) == 0


def test_a_change_a_newer_version_wrote_is_skipped_not_guessed():
    from codatdesk.team.change_feed import decode, encode

    event = ExpenseChanged(7, COMPANY, ExpenseStatus.IN_PROGRESS, ExpenseStatus.COMPLETE, "webhook:msg_1")
    assert decode(*encode(event)) == event
    assert decode("ExpenseSplit", '{"expense_id": 7}') is None
    assert encode(Notice("info", "local only")) is None  # notices and health facts stay in their process
