"""Two team servers: one active (advisory lock), the other takes over within seconds; both may
receive the same webhook (one inbox row, every receipt counted)."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlmodel import Session, select

from codatdesk.store.db import open_database
from codatdesk.store.models import WebhookDelivery
from codatdesk.team.leader import AlwaysLeader, LeaderLock, leader_lock
from codatdesk.webhooks import Inbox
from tests.conftest import wait_until


def test_one_server_is_active_and_a_standby_takes_over_when_it_dies(pg_url):
    first_db, second_db = open_database(pg_url), open_database(pg_url)
    first = LeaderLock(first_db, retry_seconds=0.1)
    second = LeaderLock(second_db, retry_seconds=0.1)
    try:
        first.start()
        assert first.wait_leader(10)
        second.start()
        assert second.try_once() is False, "the lock is held: the second stands by"
        assert not second.is_leader

        # The first server dies: PostgreSQL ends its session, and with it the lock.
        with first_db.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                              "WHERE locktype = 'advisory' AND granted"))
        assert second.wait_leader(5), "the standby took over within seconds"
        wait_until(lambda: not first.is_leader, 5, message="the dead server no longer calls itself active")
    finally:
        first.stop()
        second.stop()
        first_db.dispose()
        second_db.dispose()


def test_stopping_hands_the_lock_over(pg_url):
    db = open_database(pg_url)
    first, second = LeaderLock(db, retry_seconds=0.1), LeaderLock(db, retry_seconds=0.1)
    try:
        first.start()
        assert first.wait_leader(10)
        second.start()
        first.stop()
        assert second.wait_leader(5)
    finally:
        second.stop()
        db.dispose()


def test_on_sqlite_the_one_server_is_active(db):
    assert isinstance(leader_lock(db), AlwaysLeader) and leader_lock(db).is_leader


def test_two_servers_storing_the_same_delivery_keep_one_row(pg_url):
    engines = [open_database(pg_url) for _ in range(2)]
    inboxes = [Inbox(e) for e in engines]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def deliver(inbox: Inbox) -> None:
        start.wait()
        try:
            for i in range(20):
                inbox.store(f"delivery-{i}", b"{}", {}, "PushOperationStatusChanged")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(inboxes[i % 2],)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with Session(engines[0]) as session:
            rows = list(session.exec(select(WebhookDelivery)))
        assert len(rows) == 20
        assert {r.times_received for r in rows} == {8}
    finally:
        for e in engines:
            e.dispose()
