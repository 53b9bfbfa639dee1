"""HealthChecker end to end: signed self-test -> fake tunnel -> real WebhookListener -> inbox -> delivery_seen."""

from __future__ import annotations

import base64
import os
import signal

import pytest
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from codatdesk import secrets
from codatdesk.events import EventBus
from codatdesk.secrets import WebhookCredentials
from codatdesk.store.models import WebhookDelivery
from codatdesk.tunnel import (
    SELFTEST_EVENT_TYPE,
    SELFTEST_ID_PREFIX,
    Backoff,
    HealthChecker,
    TunnelService,
    is_selftest,
    signed_selftest,
)
from codatdesk.webhooks import Inbox, ListenerConfig, Verifier, WebhookListener
from tests.conftest import wait_until
from tests.tunnel_support import Recorder, install_fakes, make_settings

SECRET = "whsec_" + base64.b64encode(b"codatdesk-tunnel-health-test-key").decode()


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def events(bus):
    recorder = Recorder()
    bus.subscribe(recorder)
    return recorder


@pytest.fixture
def listener(db, bus):
    """The real listener; stored self-tests are forwarded to ``listener.seen`` (what Core does)."""
    secrets.set_signing_secrets([SECRET])
    credentials = lambda: WebhookCredentials(tuple(secrets.signing_secrets()), None, None)  # noqa: E731
    seen_hooks = []

    def on_stored(result) -> None:
        if is_selftest(result.delivery_id, result.event_type):
            for hook in seen_hooks:
                hook(result.delivery_id)

    server = WebhookListener(ListenerConfig(port=0), Verifier(credentials), Inbox(db), on_stored, bus)
    server.seen_hooks = seen_hooks
    server.start()
    yield server
    server.stop()


def checker(listener, url, bus, secret=lambda: SECRET, **kwargs) -> HealthChecker:
    kwargs.setdefault("timeout", 3.0)
    health = HealthChecker(url, secret, bus, interval=kwargs.pop("interval", 60), **kwargs)
    listener.seen_hooks.append(health.delivery_seen)
    return health


def test_selftest_delivery_is_signed_and_recognisable():
    delivery_id, body, headers = signed_selftest(SECRET)
    assert delivery_id.startswith(SELFTEST_ID_PREFIX) and headers["webhook-id"] == delivery_id
    Webhook(SECRET).verify(body, headers)  # raises if the signature is wrong
    assert b'"eventType":"codatdesk.selftest"' in body
    assert is_selftest(delivery_id) and is_selftest(event_type=SELFTEST_EVENT_TYPE) and not is_selftest("msg_x")


def test_healthy_then_down_when_the_tunnel_dies_then_healthy_after_restart(tmp_path, monkeypatch, listener, bus,
                                                                           events, db):
    install_fakes(tmp_path, monkeypatch)
    settings = make_settings(tmp_path, tunnel__provider="cloudflared")
    # A long backoff so the test decides when the restart happens (retry_now).
    tunnel = TunnelService(settings, listener.url, bus, backoff=lambda: Backoff(initial=30, cap=30), stop_grace=2)
    health = checker(listener, lambda: tunnel.public_webhook_url, bus, tunnel_state=lambda: tunnel.state)
    try:
        tunnel.start()
        wait_until(lambda: tunnel.state.status == "up", message="tunnel up")

        round_trip = health.check_now()
        assert round_trip is not None and 0 < round_trip < 3
        assert health.status == "healthy"
        report = events.health()[-1]
        assert report.status == "healthy" and report.round_trip_seconds == round_trip
        assert report.url == tunnel.public_webhook_url
        with Session(db) as session:
            stored = session.exec(select(WebhookDelivery)).all()
        assert [(row.event_type, row.delivery_id.startswith(SELFTEST_ID_PREFIX)) for row in stored] == [
            (SELFTEST_EVENT_TYPE, True)]

        os.kill(tunnel.pid, signal.SIGKILL)
        wait_until(lambda: tunnel.state.status == "down", message="tunnel down")
        assert health.check_now() is None
        assert health.status == "down"
        assert "tunnel" in health.last.message and "was killed" in health.last.message
        assert any(n.level == "warning" and "Codat cannot reach this computer" in n.message
                   for n in events.notices("tunnel_health"))

        tunnel.retry_now()
        wait_until(lambda: tunnel.state.status == "up", message="tunnel up again")
        assert health.check_now() is not None
        assert health.status == "healthy"
        assert events.notices("tunnel_health")[-1].message == "Webhook deliveries reach this computer again."
    finally:
        tunnel.stop()


def test_unreachable_public_url_is_down(listener, bus):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/webhooks/codat"
    health = checker(listener, lambda: dead, bus)
    assert health.check_now() is None
    assert health.status == "down" and "could not reach" in health.last.message


def test_wrong_secret_is_reported_and_a_later_success_counts_as_intermittent(listener, bus):
    secret = {"value": "whsec_" + base64.b64encode(b"not-the-secret-the-listener-knows").decode()}
    health = checker(listener, lambda: listener.url, bus, secret=lambda: secret["value"])

    assert health.check_now() is None
    assert health.status == "down"
    assert "rejected the signed test delivery (401)" in health.last.message and "signing secret" in health.last.message

    secret["value"] = SECRET
    assert health.check_now() is not None
    assert health.status == "degraded" and "intermittent: 1 of the last 2" in health.last.message


def test_slow_arrival_is_degraded(listener, bus):
    health = checker(listener, lambda: listener.url, bus, slow_after=0.0)
    assert health.check_now() is not None
    assert health.status == "degraded" and health.last.message.startswith("slow:")


def test_no_public_url_is_down_without_sending(listener, bus):
    health = checker(listener, lambda: None, bus)
    assert health.check_now() is None
    assert health.status == "down" and "No public URL" in health.last.message
    assert listener.stats == {}


def test_periodic_checks_publish_reports_until_stopped(listener, bus, events):
    health = checker(listener, lambda: listener.url, bus, interval=0.05)
    health.start()
    health.check_soon()
    try:
        wait_until(lambda: len([r for r in events.health() if r.status == "healthy"]) >= 3,
                   message="three periodic healthy reports")
    finally:
        health.stop()
    count = len(events.health())
    health.check_soon()  # no thread any more: nothing happens
    assert len(events.health()) == count
