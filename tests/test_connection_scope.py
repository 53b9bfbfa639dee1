"""Which companies and connections codatdesk serves (issue #12, section 2, the connection bullet):
webhooks of other companies are counted and dropped, the consumer asks Codat for ours only (company
tags), only Linked accounting connections are chosen, a replaced connection is followed, and a push
asks Codat for the connection's status instead of trusting a stale stored one."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from codatdesk.engine.connections import (
    accounting_connections,
    pick_accounting,
    replacement_for,
)
from codatdesk.events import DeliveriesDropped, Notice
from codatdesk.store.db import session_scope
from codatdesk.store.models import Company, Connection, PushOperation, WebhookDelivery
from codatdesk.webhooks import scope
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, statuses
from tests.test_engine_e2e import signed_post, write_event


def events_of(core, kind):
    seen = []
    core.bus.subscribe(lambda event: seen.append(event) if isinstance(event, kind) else None)
    return seen


def deliveries(core) -> list[WebhookDelivery]:
    with Session(core.db) as session:
        return list(session.exec(select(WebhookDelivery)).all())


def settle(harness) -> None:
    harness.sandbox.wait_idle(10)
    assert harness.core.wait_idle(10)


# -- the connection picker ---------------------------------------------------------------

BANK = {"id": "bank", "status": "Linked", "sourceType": "Banking", "integrationKey": "zqev"}
LEDGER = {"id": "ledger", "status": "Linked", "sourceType": "Accounting", "integrationKey": "gbol"}
OLD = {"id": "old", "status": "Unlinked", "sourceType": "Accounting", "integrationKey": "gbol"}


def test_only_accounting_connections_are_offered_and_chosen():
    assert [c["id"] for c in accounting_connections([BANK, OLD, LEDGER])] == ["ledger", "old"]
    assert pick_accounting([BANK, LEDGER]) is LEDGER
    assert pick_accounting([BANK]) is None
    assert replacement_for("old", "gbol", [BANK, OLD]) is None  # a bank connection never replaces a ledger
    assert replacement_for("old", "gbol", [BANK, OLD, LEDGER]) is LEDGER
    assert replacement_for("old", "qhyg", [OLD, LEDGER]) is None  # another ledger is not a replacement


# -- other companies' webhooks ------------------------------------------------------------------

def test_webhooks_of_companies_not_served_are_counted_and_dropped(harness):
    core = harness.start_core()
    reports, notices = events_of(core, DeliveriesDropped), events_of(core, Notice)
    sb = harness.sandbox
    other = sb.create_company("Someone Else Ltd")["id"]
    connection = sb.create_connection(other)  # connection.created for a company codatdesk does not serve
    sb.set_connection_status(other, connection["id"], "Linked")
    assert signed_post(harness, write_event("k-theirs", company_id=other), "msg_theirs").status_code == 200
    settle(harness)
    wait_until(lambda: len([d for d in deliveries(core) if d.company_id == other]) == 3, 5, message="3 stored")
    theirs = [d for d in deliveries(core) if d.company_id == other]
    assert {d.verdict for d in theirs} == {scope.DROPPED}  # not parked, not applied
    with Session(core.db) as session:
        assert session.get(Company, other) is None
        assert not session.exec(select(Connection).where(Connection.company_id == other)).all()
        assert scope.dropped_count(session) == 3
    wait_until(lambda: any(r.total == 3 for r in reports), 5,
               message="the count reported")
    assert any(other in n.message and n.topic == "webhook_scope" for n in notices)


def test_a_parked_delivery_of_another_company_is_dropped_at_start(harness):
    core = harness.start_core()
    core.stop()
    with session_scope(core.db) as session:  # parked by an older version, which kept every company's events
        session.add(WebhookDelivery(delivery_id="old-park", event_type="directCosts.write.successful",
                                    headers_json="{}", body=b"{}", verdict="parked", company_id="elsewhere",
                                    push_operation_key="k-old"))
    core.start()
    assert core.wait_idle(10)
    wait_until(lambda: next(d for d in deliveries(core) if d.delivery_id == "old-park").verdict != "parked", 5,
               message="the old parked row settled")


# -- company tags ---------------------------------------------------------------------------------

def test_the_consumer_asks_codat_for_the_served_companies_only(harness):
    core = harness.start_core()
    sb = harness.sandbox
    consumer = core.register_webhook(core.listener_url)
    registrar = core._registrar()
    assert consumer["companyTags"] == registrar.company_tags == [scope.consumer_tag(registrar.install_id)]
    key = scope.tag_key(registrar.install_id)
    assert sb.state.company(sb.company_id).company["tags"] == {key: scope.TAG_VALUE}
    # Only the new consumer now: its secret signs what arrives.
    sb.delete_webhook_consumer(harness.consumer_id)
    harness.secrets[:] = [sb.consumer_secret(consumer["id"])]

    other = sb.create_company("Someone Else Ltd")["id"]
    sb.set_connection_status(other, sb.create_connection(other)["id"], "Linked")
    sb.set_connection_status(sb.company_id, sb.connection_id, "Unlinked")
    settle(harness)
    wait_until(lambda: any(d.company_id == sb.company_id for d in deliveries(core)), 5, message="our event")
    assert not [d for d in deliveries(core) if d.company_id == other]  # Codat filtered it out

    # A company served later is tagged too, keeping its own tags.
    later = sb.create_company("Later Ltd", tags={"region": "uk"})["id"]
    core.set_company(later, sb.create_connection(later)["id"], name="Later Ltd")
    wait_until(lambda: sb.state.company(later).company["tags"] == {"region": "uk", key: scope.TAG_VALUE}, 5,
               message="the new company tagged")


def test_a_consumer_without_our_tags_is_replaced(harness):
    core = harness.start_core()
    untagged = harness.sandbox.add_webhook_consumer("https://example.test/webhooks/codat",
                                                    list(core._registrar().event_types))
    core._registrar()._save([{"id": untagged["id"], "url": untagged["url"]}])
    consumer = core.register_webhook("https://example.test/webhooks/codat")
    assert consumer["id"] != untagged["id"] and consumer["companyTags"]
    ids = {c["id"] for c in core.client().list_webhook_consumers()}
    assert untagged["id"] not in ids and consumer["id"] in ids


# -- the connection's status, from Codat ------------------------------------------------------------

def count_calls(core, name: str) -> list:
    client = core.client()
    calls, real = [], getattr(client, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    setattr(client, name, counting)
    return calls


def set_local_status(core, connection_id: str, status: str) -> None:
    with session_scope(core.db) as session:
        conn = session.get(Connection, connection_id)
        conn.status = status
        session.add(conn)


def test_a_stale_local_unlinked_does_not_block_a_push(harness):
    core = harness.start_core()
    harness.import_rows([row(1), row(2), row(3)])
    assert core.reconciler.wait_for_run(0, 30)  # its connection check is over: it stores no newer status
    set_local_status(core, harness.sandbox.connection_id, "Unlinked")  # the user relinked since
    asked = count_calls(core, "get_connection")
    problems = core.check_pushable([e.id for e in expenses(core)])
    assert not [p for p in problems if "connection" in p.reason], problems
    assert len(asked) == 1  # once per company per check, not per expense


def test_a_push_asks_codat_for_the_connection_once(harness):
    """The push's own check asked a moment ago: planning takes that Linked answer, not a second GET."""
    core = harness.start_core()
    harness.import_rows([row(1), row(2)])
    assert core.reconciler.wait_for_run(0, 30)
    asked = count_calls(core, "get_connection")
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(30) and batch.sent == 2
    assert len(asked) == 1


def test_codat_saying_unlinked_blocks_even_when_the_store_says_linked(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    sb = harness.sandbox
    assert core.reconciler.wait_for_run(0, 30)  # the store says Linked (the start-up check)
    with sb.state.lock:  # no webhook: the platform side changed silently
        sb.state.companies[sb.company_id].connections[sb.connection_id]["status"] = "Deauthorized"
    problems = core.check_pushable([e.id for e in expenses(core)])
    assert any("connection is Deauthorized" in p.reason for p in problems), problems


# -- a replaced connection ------------------------------------------------------------------------

@pytest.mark.parametrize("old_end", ["Unlinked", "deleted"])
def test_a_replaced_connection_is_followed_and_the_old_id_never_pushed_to(harness, old_end):
    core = harness.start_core()
    notices = events_of(core, Notice)
    harness.import_rows([row(1)])
    sb = harness.sandbox
    old = sb.connection_id
    bank = sb.state.add_connection(sb.company_id, "Linked")  # a Linked bank feed must not be taken instead
    sb.state.companies[sb.company_id].connections[bank["id"]]["sourceType"] = "Banking"
    new = sb.create_connection(sb.company_id)["id"]
    sb.set_connection_status(sb.company_id, new, "Linked")
    if old_end == "deleted":
        with sb.state.lock:
            del sb.state.companies[sb.company_id].connections[old]
    else:
        sb.set_connection_status(sb.company_id, old, "Unlinked")
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(30)
    wait_until(lambda: all(s.value == "Push complete" for s in statuses(core)), 15, message="pushed")
    with Session(core.db) as session:
        assert {op.connection_id for op in session.exec(select(PushOperation)).all()} == {new}
        assert session.get(Company, sb.company_id).connection_id == new
    assert core.settings.get("codat.connection_id") == new
    assert any("was replaced" in n.message and new in n.message for n in notices)


def test_without_a_linked_accounting_successor_the_push_is_blocked(harness):
    core = harness.start_core()
    harness.import_rows([row(1)])
    sb = harness.sandbox
    bank = sb.state.add_connection(sb.company_id, "Linked")
    sb.state.companies[sb.company_id].connections[bank["id"]]["sourceType"] = "Banking"
    sb.set_connection_status(sb.company_id, sb.connection_id, "Unlinked")
    problems = core.check_pushable([e.id for e in expenses(core)])
    assert any("connection is Unlinked" in p.reason for p in problems), problems
    assert core.connection_for(sb.company_id) == sb.connection_id
