"""TunnelStack as Core wires it: listener + fake cloudflared + health + registration against the sandbox."""

from __future__ import annotations

import base64
import os

import pytest

from codatdesk.codat import CodatClient
from codatdesk.events import EventBus
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.secrets import WebhookCredentials
from codatdesk.tunnel import TunnelStack, authorization_header, is_selftest
from codatdesk.webhooks import Inbox, ListenerConfig, Verifier, WebhookListener
from tests.conftest import wait_until
from tests.tunnel_support import Recorder, install_fakes, make_settings, pid_alive

SECRET = "whsec_" + base64.b64encode(b"codatdesk-tunnel-stack-test-key!").decode()
CREDENTIALS = WebhookCredentials((SECRET,), None, "Bearer portal-header-token")


def test_authorization_header_matches_what_the_portal_sends():
    assert authorization_header("none", CREDENTIALS) is None
    assert authorization_header("bearer", CREDENTIALS) == "Bearer portal-header-token"
    assert authorization_header("bearer", WebhookCredentials((), None, "raw")) == "Bearer raw"
    assert authorization_header("basic", WebhookCredentials((), "u:p", None)) == "Basic " + base64.b64encode(
        b"u:p").decode()


@pytest.mark.skipif(os.name != "posix", reason="fake binaries are POSIX scripts")
def test_stack_checks_health_when_up_and_registers_on_request(tmp_path, monkeypatch, db):
    install_fakes(tmp_path, monkeypatch)
    bus = EventBus()
    events = Recorder()
    bus.subscribe(events)
    sb = Sandbox(SandboxConfig(push_delay=0.05))
    sandbox_server = SandboxServer(sb).start()
    client = CodatClient(sb.api_key, sandbox_server.base_url, sleep=lambda s: None)
    stack: TunnelStack | None = None

    def on_stored(result) -> None:  # what Core does (through the applier) for self-tests
        if is_selftest(result.delivery_id, result.event_type):
            stack.delivery_seen(result.delivery_id)

    verifier = Verifier(lambda: CREDENTIALS, authorization="bearer")
    listener = WebhookListener(ListenerConfig(port=0), verifier, Inbox(db), on_stored, bus)
    listener.start()
    settings = make_settings(tmp_path, tunnel__provider="cloudflared", tunnel__health_interval_seconds=3600,
                             webhook__authorization="bearer")
    stack = TunnelStack(settings, listener.url, bus, lambda: client, webhook_credentials=lambda: CREDENTIALS,
                        state_path=tmp_path / "webhook_consumers.json")
    try:
        stack.start()
        # No waiting for the hour-long interval: the tunnel coming up triggers a check.
        wait_until(lambda: [r.status for r in events.health()] == ["healthy"],
                   message="a healthy check right after the tunnel came up")
        assert stack.health.last.url == stack.tunnel.public_webhook_url

        consumer = stack.register_webhook()
        assert consumer["url"] == stack.tunnel.public_webhook_url
        assert [c["url"] for c in client.list_webhook_consumers()] == [stack.tunnel.public_webhook_url]
        pid = stack.tunnel.pid
    finally:
        stack.stop()
        listener.stop()
        client.close()
        sandbox_server.stop()
        sb.shutdown()
    assert not pid_alive(pid)


def test_stack_without_a_tunnel_reports_off_and_does_not_check(tmp_path, db):
    bus = EventBus()
    events = Recorder()
    bus.subscribe(events)
    stack = TunnelStack(make_settings(tmp_path), "http://127.0.0.1:9", bus, lambda: None,
                        webhook_credentials=lambda: CREDENTIALS, state_path=tmp_path / "c.json")
    stack.start()
    try:
        assert [r.status for r in events.health()] == ["off"]
        assert stack.tunnel.state.status == "off"
        with pytest.raises(RuntimeError, match="no public address"):
            stack.register_webhook()
    finally:
        stack.stop()
