"""WebhookRegistrar against the Codat sandbox over loopback HTTP (GET/POST/DELETE /webhooks)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import uuid

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from codatdesk import secrets
from codatdesk.codat import CodatClient
from codatdesk.events import EventBus
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.secrets import WebhookCredentials
from codatdesk.tunnel import APP_EVENT_TYPES, Backoff, TunnelService, WebhookRegistrar
from codatdesk.webhooks import Inbox, ListenerConfig, Verifier, WebhookListener
from tests.conftest import wait_until
from tests.tunnel_support import Recorder, install_fakes, make_settings


@pytest.fixture
def sandbox():
    sb = Sandbox(SandboxConfig(push_delay=0.05))
    server = SandboxServer(sb).start()
    yield sb, server
    server.stop()
    sb.shutdown()


@pytest.fixture
def client(sandbox):
    sb, server = sandbox
    with CodatClient(sb.api_key, server.base_url, sleep=lambda s: None) as codat:
        yield codat


@pytest.fixture
def bus_events():
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe(recorder)
    return bus, recorder


@pytest.fixture
def registrar(client, bus_events, tmp_path):
    bus, _ = bus_events
    return WebhookRegistrar(lambda: client, bus, tmp_path / "webhook_consumers.json")


def codat_consumers(client) -> dict[str, str]:
    return {c["id"]: c["url"] for c in client.list_webhook_consumers()}


def test_register_creates_one_consumer_with_the_app_event_types(registrar, client, bus_events, tmp_path):
    _, events = bus_events
    url = "https://alpha-bravo.trycloudflare.com/webhooks/codat"

    consumer = registrar.ensure_registered(url)

    stored = client.list_webhook_consumers()
    assert [(c["id"], c["url"]) for c in stored] == [(consumer["id"], url)]
    assert stored[0]["eventTypes"] == list(APP_EVENT_TYPES)
    assert registrar.is_registered and registrar.secret_pending
    state = json.loads((tmp_path / "webhook_consumers.json").read_text())
    assert [(c["id"], c["url"]) for c in state["consumers"]] == [(consumer["id"], url)]
    assert "secret" not in json.dumps(state).replace("secret_pending", "")
    notice = events.notices("webhook_registration")[-1]
    assert notice.level == "warning" and "new signing secret" in notice.message
    assert "Codat Portal" in notice.message and "Settings" in notice.message
    assert events.registrations()[-1].consumer_id == consumer["id"]

    # Idempotent: the same URL again creates nothing and says nothing new about secrets.
    count = len(events.notices("webhook_registration"))
    assert registrar.ensure_registered(url)["id"] == consumer["id"]
    assert len(codat_consumers(client)) == 1
    assert len(events.notices("webhook_registration")) == count


def test_url_change_deletes_our_old_consumer_and_creates_a_new_one(registrar, client):
    old_url = "https://alpha.trycloudflare.com/webhooks/codat"
    new_url = "https://bravo.trycloudflare.com/webhooks/codat"
    old = registrar.ensure_registered(old_url)
    assert registrar.consumers_pointing_elsewhere(old_url) == []
    assert [c["id"] for c in registrar.consumers_pointing_elsewhere(new_url)] == [old["id"]]

    new = registrar.ensure_registered(new_url)

    assert new["id"] != old["id"]
    assert codat_consumers(client) == {new["id"]: new_url}
    assert registrar.consumers_pointing_elsewhere(new_url) == []
    assert [c["id"] for c in registrar.remembered()] == [new["id"]]


def test_consumers_of_another_codat_environment_are_remembered_until_we_are_back(client, sandbox, bus_events,
                                                                                    tmp_path):
    """Switching between the sandbox and production must not make us forget (and orphan) a consumer."""
    bus, _ = bus_events
    state = tmp_path / "webhook_consumers.json"
    production = WebhookRegistrar(lambda: client, bus, state)
    old = production.ensure_registered("https://hotel.example.com/webhooks/codat")

    other_box = Sandbox(SandboxConfig(seed=None))  # ids unlike the first sandbox's
    other_server = SandboxServer(other_box).start()
    try:
        with CodatClient(other_box.api_key, other_server.base_url, sleep=lambda s: None) as other_client:
            demo = WebhookRegistrar(lambda: other_client, bus, state).ensure_registered(
                "https://india.example.com/webhooks/codat")
    finally:
        other_server.stop()
        other_box.shutdown()
    assert {c["id"] for c in production.remembered()} == {old["id"], demo["id"]}

    new = production.ensure_registered("https://juliet.example.com/webhooks/codat")
    assert codat_consumers(client) == {new["id"]: "https://juliet.example.com/webhooks/codat"}


def test_consumers_we_did_not_create_are_reported_never_deleted(registrar, client, sandbox, bus_events):
    sb, _ = sandbox
    _, events = bus_events
    foreign = sb.add_webhook_consumer("https://someone-else.example.com/webhooks/codat", list(APP_EVENT_TYPES))
    unrelated = sb.add_webhook_consumer("https://erp.example.com/hooks", ["connection.created"])

    ours = registrar.ensure_registered("https://charlie.trycloudflare.com/webhooks/codat")

    assert set(codat_consumers(client)) == {foreign["id"], unrelated["id"], ours["id"]}
    assert registrar.consumers_pointing_elsewhere(ours["url"]) == []
    info = [n.message for n in events.notices("webhook_registration") if n.level == "info"]
    assert any("someone-else.example.com" in m and "left alone" in m for m in info)
    assert not any("erp.example.com" in m for m in info)


def test_existing_consumer_for_the_url_is_adopted_without_a_new_secret(registrar, client, sandbox):
    sb, _ = sandbox
    url = "https://delta.example.com/webhooks/codat"
    existing = sb.add_webhook_consumer(url, list(APP_EVENT_TYPES), company_tags=registrar.company_tags)
    assert registrar.ensure_registered(url)["id"] == existing["id"]
    assert codat_consumers(client) == {existing["id"]: url}
    assert registrar.is_registered and not registrar.secret_pending


def test_codat_refusal_is_explained_and_raised(bus_events, tmp_path):
    from codatdesk.codat import CodatAuthError

    bus, events = bus_events

    class Refusing:
        def list_webhook_consumers(self):
            return []

        def create_webhook_consumer(self, url, event_types, company_tags=None):
            raise CodatAuthError("Codat rejected the API key (401)")

    registrar = WebhookRegistrar(lambda: Refusing(), bus, tmp_path / "state.json")
    with pytest.raises(CodatAuthError):
        registrar.ensure_registered("https://echo.example.com/webhooks/codat")
    assert events.notices("webhook_registration")[-1].level == "error"
    assert "Could not register the webhook" in events.notices("webhook_registration")[-1].message
    assert not registrar.is_registered


def test_missing_api_key_is_explained(bus_events, tmp_path):
    from codatdesk import secrets as secret_store

    bus, events = bus_events

    def no_key():
        raise secret_store.SecretMissing(secret_store.API_KEY)

    registrar = WebhookRegistrar(no_key, bus, tmp_path / "state.json")
    with pytest.raises(secret_store.SecretMissing):
        registrar.ensure_registered("https://golf.example.com/webhooks/codat")
    assert "no Codat API key is stored yet" in events.notices("webhook_registration")[-1].message


def test_reregister_if_needed_waits_for_the_user_to_register_first(registrar, client, bus_events):
    _, events = bus_events
    assert registrar.reregister_if_needed("https://foxtrot.example.com/webhooks/codat") is None
    assert codat_consumers(client) == {}
    assert "Register webhook" in events.notices("webhook_registration")[-1].message
    assert registrar.reregister_if_needed(None) is None


def _signed(secret: str, body: bytes) -> dict[str, str]:
    msg_id = "msg_" + uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
            "content-type": "application/json"}


@pytest.mark.skipif(os.name != "posix", reason="fake binaries are POSIX scripts")
def test_quick_tunnel_restart_reregisters_and_both_secrets_work_during_the_switch(
        tmp_path, monkeypatch, sandbox, client, bus_events, db):
    sb, _ = sandbox
    bus, events = bus_events
    install_fakes(tmp_path, monkeypatch)
    credentials = lambda: WebhookCredentials(tuple(secrets.signing_secrets()), None, None)  # noqa: E731
    listener = WebhookListener(ListenerConfig(port=0), Verifier(credentials), Inbox(db), lambda result: None, bus)
    listener.start()
    registrar = WebhookRegistrar(lambda: client, bus, tmp_path / "webhook_consumers.json")
    settings = make_settings(tmp_path, tunnel__provider="cloudflared")
    tunnel: TunnelService | None = None

    def follow(url: str | None) -> None:  # the Core wiring
        registrar.reregister_if_needed(tunnel.public_webhook_url if url else None)

    tunnel = TunnelService(settings, listener.url, bus, on_url_change=follow,
                           backoff=lambda: Backoff(initial=0.05, cap=0.05), stop_grace=2)
    try:
        tunnel.start()
        wait_until(lambda: tunnel.state.status == "up", message="tunnel up")
        first_url = tunnel.public_webhook_url
        wait_until(lambda: any("Register webhook" in n.message for n in events.notices("webhook_registration")),
                   message="hint to register")
        first = registrar.ensure_registered(first_url)  # the user's "Register webhook"
        first_secret = sb.consumer_secret(first["id"])  # what the user copies from the Portal
        registrar.accept_new_secret(first_secret)
        assert secrets.signing_secrets() == [first_secret]

        os.kill(tunnel.pid, signal.SIGKILL)
        wait_until(lambda: tunnel.state.status == "up" and tunnel.public_webhook_url not in (None, first_url),
                   message="tunnel back with a new URL")
        second_url = tunnel.public_webhook_url
        # The registrar deletes the old consumer in Codat before it records the new one and says so:
        # wait for its notice, the last step, not for Codat's list.
        wait_until(lambda: any(second_url in n.message and "new signing secret" in n.message
                               for n in events.notices("webhook_registration")), message="re-registered")
        assert list(codat_consumers(client).values()) == [second_url]
        second_id = next(iter(codat_consumers(client)))
        assert second_id != first["id"] and registrar.secret_pending

        second_secret = sb.consumer_secret(second_id)
        registrar.accept_new_secret(second_secret)
        assert secrets.signing_secrets() == [second_secret, first_secret]
        assert not registrar.secret_pending

        body = b'{"id":"e1","eventType":"connection.connected","generatedDate":"2024-01-01T00:00:00Z","payload":{}}'
        for secret in (first_secret, second_secret):
            response = httpx.post(second_url, content=body, headers=_signed(secret, body))
            assert response.status_code in (200, 202, 204), response.text
        stranger = "whsec_" + "A" * 32
        assert httpx.post(second_url, content=body, headers=_signed(stranger, body)).status_code == 401
    finally:
        tunnel.stop()
        listener.stop()
