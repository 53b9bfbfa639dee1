"""A team server's webhook intake in a process of its own (webhooks/intake_process): deliveries are committed
by the child and handed to the parent, refusals and log lines reach the parent, the credentials are the
parent's, and a child that dies is replaced on the same port."""

from __future__ import annotations

import logging
import os
import signal

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.events import DeliveryRecorded, EventBus, ListenerStateChanged
from codatdesk.secrets import WebhookCredentials
from codatdesk.store.db import open_database
from codatdesk.store.models import WebhookDelivery
from codatdesk.webhooks import ListenerConfig, ListenerError
from codatdesk.webhooks.intake_process import IntakeProcess
from tests.conftest import wait_until
from tests.test_webhook_listener import BODY, SECRET, sign_headers

KNOWN = WebhookCredentials((SECRET,), None, None)


class Intake:
    def __init__(self, url: str, credentials: WebhookCredentials, port: int = 0, cached: bool = True) -> None:
        self.engine = open_database(url)  # migrated, as the server does before it starts the intake
        self.credentials = credentials
        self.fresh: WebhookCredentials | None = None  # what the keyring says when asked again
        self.cached = cached
        self.locked_reads = 0  # reads that fail first, as a locked keyring does
        self.stored: list = []
        self.events: list = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        self.process = IntakeProcess(ListenerConfig(port=port), url, require_signature=True, authorization="none",
                                     credentials=self._read, recheck=self._recheck if cached else None,
                                     on_stored=self.stored.append, bus=bus)
        self.client = httpx.Client(timeout=10, trust_env=False)

    def _read(self) -> WebhookCredentials:  # a cache answers what it read until ``_recheck``; a plain callable reads
        if self.locked_reads:
            self.locked_reads -= 1
            raise RuntimeError("the keyring is locked")
        return self.credentials if self.cached or self.fresh is None else self.fresh

    def _recheck(self) -> bool:
        if self.fresh is None or self.fresh == self.credentials:
            return False
        self.credentials = self.fresh
        return True

    def post(self, msg_id: str, secret: str = SECRET) -> httpx.Response:
        return self.client.post(self.process.url, content=BODY, headers=sign_headers(BODY, msg_id=msg_id,
                                                                                      secret=secret))

    def rows(self) -> list[WebhookDelivery]:
        with Session(self.engine) as session:
            return list(session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())

    def close(self) -> None:
        self.process.stop()
        self.client.close()
        self.engine.dispose()


@pytest.fixture
def intake(pg_url):
    made: list[Intake] = []

    def make(credentials: WebhookCredentials = KNOWN, port: int = 0, cached: bool = True) -> Intake:
        made.append(Intake(pg_url, credentials, port, cached))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_a_delivery_is_committed_by_the_child_and_handed_to_the_parent(intake, caplog):
    caplog.set_level(logging.INFO)
    h = intake()
    h.process.start()
    assert h.process.running and h.process.pid != os.getpid()
    assert h.post("msg_1").status_code == 200  # answered once committed, by the child
    [row] = h.rows()
    wait_until(lambda: h.stored, message="the parent told of the delivery")
    assert (h.stored[0].row_id, h.stored[0].is_new, h.stored[0].verdict) == (row.id, True, "pending")
    assert h.post("msg_1").text == "ok (duplicate)"
    wait_until(lambda: len(h.stored) == 2)
    assert h.stored[1].is_new is False and h.rows()[0].times_received == 2

    assert h.post("msg_2", secret="whsec_" + "A" * 43).status_code == 401  # a refusal: events and log reach us
    wait_until(lambda: any(isinstance(e, DeliveryRecorded) and e.verdict == "rejected" for e in h.events))
    wait_until(lambda: "[intake] webhook rejected: 401" in caplog.text, message="the child's log line")
    assert [e.verdict for e in h.events if isinstance(e, DeliveryRecorded)] == ["pending", "duplicate", "rejected"]
    assert len(h.rows()) == 1

    pid = h.process.pid
    h.process.stop()
    assert not h.process.running
    assert [e.url for e in h.events if isinstance(e, ListenerStateChanged)] == [h.process.url, None]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("cached", [True, False], ids=["keyring cache", "plain callable"])
def test_a_secret_the_child_does_not_know_is_asked_of_the_parent(intake, cached):
    h = intake(WebhookCredentials(("whsec_" + "B" * 43,), None, None), cached=cached)
    h.process.start()
    assert h.post("msg_old").status_code == 401  # the parent's keyring has nothing newer
    h.fresh = WebhookCredentials((SECRET,), None, None)  # `codatdesk secrets set` in another process
    assert h.post("msg_new").status_code == 200
    assert [row.delivery_id for row in h.rows()] == ["msg_new"]


def test_credentials_the_cache_read_meanwhile_reach_the_child(intake):
    """Another part of the server refreshed the keyring cache (its ``recheck`` then says "nothing new"): the
    child still gets what differs from what it holds."""
    h = intake(WebhookCredentials(("whsec_" + "B" * 43,), None, None))
    h.process.start()
    h.credentials = KNOWN  # the cache now holds the new secret; its recheck finds nothing newer
    assert h.post("msg_new").status_code == 200


def test_a_child_that_dies_is_replaced_on_the_same_port(intake):
    h = intake()
    h.process.start()
    url, first = h.process.url, h.process.pid
    assert h.post("msg_before").status_code == 200
    h.locked_reads = 1  # the first try to start another finds the keyring locked: it tries again
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: h.process.restarts == 1 and h.process.running, timeout=20, message="a new child")
    assert h.locked_reads == 0
    assert h.process.url == url and h.process.pid != first
    assert h.post("msg_after").status_code == 200
    wait_until(lambda: [r.delivery_id for r in h.stored] == ["msg_before", "msg_after"])
    changes = [(e.url, bool(e.error)) for e in h.events if isinstance(e, ListenerStateChanged)]
    assert changes == [(url, False), (None, True), (url, False)]


def test_a_child_that_cannot_listen_says_why(intake):
    h = intake()
    h.process.start()
    taken = intake(port=h.process.port)
    with pytest.raises(ListenerError, match=r"did not start: port .* is already in use"):
        taken.process.start()
    assert not taken.process.running
