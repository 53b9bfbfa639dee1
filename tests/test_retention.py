"""Webhook bodies and self-test deliveries are kept ``webhook.retention_days``, never what open work needs."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from codatdesk.engine.applier import SELFTEST_EVENT
from codatdesk.store.db import session_scope
from codatdesk.store.models import PushOperation, WebhookDelivery, utcnow
from codatdesk.store.retention import RetentionSweeper, SweepResult, sweep
from tests.conftest import wait_until

OLD = utcnow() - dt.timedelta(days=91)
RECENT = utcnow() - dt.timedelta(days=89)


def add_delivery(db, delivery_id: str, *, at: dt.datetime = OLD, verdict: str = "applied",
                 event_type: str = "directCosts.write.successful", key: str | None = None) -> None:
    with session_scope(db) as session:
        session.add(WebhookDelivery(delivery_id=delivery_id, received_at=at, event_type=event_type,
                                    headers_json='{"webhook-id": "x"}', body=b'{"payload": {}}',
                                    verdict=verdict, push_operation_key=key))


def add_operation(db, key: str, status: str) -> None:
    with session_scope(db) as session:
        session.add(PushOperation(key=key, company_id="c", connection_id="k", data_type="directCosts",
                                  status=status, requested_at=OLD))


def rows(db) -> dict[str, WebhookDelivery]:
    with Session(db) as session:
        return {row.delivery_id: row for row in session.exec(select(WebhookDelivery)).all()}


def test_old_bodies_go_and_their_rows_stay_but_open_work_keeps_its_own(db):
    add_operation(db, "k-success", "Success")
    add_operation(db, "k-pending", "Pending")
    add_operation(db, "k-timedout", "TimedOut")
    add_delivery(db, "old-applied", key="k-success")
    add_delivery(db, "old-stale", verdict="stale")
    add_delivery(db, "recent", at=RECENT)
    add_delivery(db, "old-pending", verdict="pending")
    add_delivery(db, "old-parked", verdict="parked", key="k-unknown")
    add_delivery(db, "old-open-operation", key="k-pending")
    add_delivery(db, "old-timed-out", key="k-timedout")  # a late Success may still end it
    add_delivery(db, "old-selftest", event_type=SELFTEST_EVENT)
    add_delivery(db, "recent-selftest", at=RECENT, event_type=SELFTEST_EVENT)

    result = sweep(db, 90, disposable_event_types=(SELFTEST_EVENT,))

    assert (result.bodies_removed, result.selftests_deleted) == (2, 1)
    kept = rows(db)
    assert "old-selftest" not in kept and "recent-selftest" in kept
    for swept in ("old-applied", "old-stale"):
        assert kept[swept].body == b"" and kept[swept].headers_json == "{}"
        assert kept[swept].verdict in ("applied", "stale")  # the row, and so duplicate detection, stay
    for untouched in ("recent", "old-pending", "old-parked", "old-open-operation", "old-timed-out", "recent-selftest"):
        assert kept[untouched].body == b'{"payload": {}}', untouched
    assert sweep(db, 90, disposable_event_types=(SELFTEST_EVENT,)) == SweepResult(0, 0)  # nothing twice


def test_the_sweeper_runs_at_start(db):
    add_delivery(db, "old-applied")
    sweeper = RetentionSweeper(db, lambda: 90)
    sweeper.start()
    try:
        wait_until(lambda: sweeper.runs >= 1, message="the first sweep")
    finally:
        sweeper.stop()
    assert rows(db)["old-applied"].body == b""


def test_a_shorter_setting_sweeps_more(db):
    add_delivery(db, "recent", at=RECENT)
    assert sweep(db, 30).bodies_removed == 1


def test_the_team_feed_keeps_a_month_of_changes(db):
    """A desktop reads each change as it is committed; the feed need not keep them for ever."""
    from codatdesk.store.models import ChangeLogEntry
    from codatdesk.store.retention import CHANGES_KEPT_DAYS

    with session_scope(db) as session:
        for kind, days in (("old", CHANGES_KEPT_DAYS + 1), ("recent", CHANGES_KEPT_DAYS - 1)):
            session.add(ChangeLogEntry(origin="o", kind=kind, body="{}", at=utcnow() - dt.timedelta(days=days)))
    assert sweep(db, 90).changes_pruned == 1
    with Session(db) as session:
        assert [e.kind for e in session.exec(select(ChangeLogEntry)).all()] == ["recent"]
