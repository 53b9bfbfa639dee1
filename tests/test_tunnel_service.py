"""TunnelService against fake cloudflared/ngrok binaries on PATH, with real loopback HTTP."""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest

from codatdesk.events import EventBus, TunnelStateChanged
from codatdesk.tunnel import Backoff, TunnelService
from tests.conftest import wait_until
from tests.tunnel_support import Origin, Recorder, install_fakes, make_settings, pid_alive, read_argv_log

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fake binaries are POSIX scripts")


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, factor=2.0, cap=0.2, reset_after=5.0)


@pytest.fixture
def origin():
    server = Origin()
    yield server
    server.close()


@pytest.fixture
def bus_and_events():
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe(recorder)
    return bus, recorder


@pytest.fixture
def services():
    started: list[TunnelService] = []
    yield started
    for service in started:
        service.stop()


def make_service(services, settings, origin, bus, **kwargs) -> TunnelService:
    kwargs.setdefault("backoff", fast_backoff)
    kwargs.setdefault("stop_grace", 2.0)
    service = TunnelService(settings, origin.url, bus, **kwargs)
    services.append(service)
    return service


def test_cloudflared_quick_tunnel_url_is_discovered_and_forwards(tmp_path, monkeypatch, origin, bus_and_events,
                                                                  services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    bus, events = bus_and_events
    changes: list[str | None] = []
    settings = make_settings(tmp_path, tunnel__provider="cloudflared")
    service = make_service(services, settings, origin, bus, on_url_change=changes.append)

    service.start()
    wait_until(lambda: service.state.status == "up", message="cloudflared up")

    url = service.public_url
    assert url.startswith("http://127.0.0.1:") and url != origin.url
    assert service.public_webhook_url == url + "/webhooks/codat"
    response = httpx.post(service.public_webhook_url, content=b'{"hello": 1}')
    assert response.status_code == 204
    assert origin.requests[-1][0] == "/webhooks/codat" and origin.requests[-1][2] == b'{"hello": 1}'
    wait_until(lambda: changes == [url], message="on_url_change with the URL")
    assert events.tunnel_states()[-1].state.public_url == url
    assert events.tunnel_states()[-1].state.status == "up"
    started = read_argv_log(argv_log)[-1]
    assert started["argv"] == ["tunnel", "--no-autoupdate", "--url", origin.url]
    assert started["pgid"] == started["pid"], "the tunnel runs in its own process group"


def test_cloudflared_real_style_https_url_is_parsed_from_the_box(tmp_path, monkeypatch, origin, bus_and_events,
                                                                 services):
    install_fakes(tmp_path, monkeypatch, loopback=False)
    bus, _ = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="cloudflared"), origin, bus)
    service.start()
    wait_until(lambda: service.state.status == "up", message="cloudflared up")
    assert service.public_url.startswith("https://") and service.public_url.endswith(".trycloudflare.com")


def test_crashed_tunnel_goes_down_then_comes_back_with_a_new_url(tmp_path, monkeypatch, origin, bus_and_events,
                                                                 services):
    install_fakes(tmp_path, monkeypatch)
    bus, events = bus_and_events
    changes: list[str | None] = []
    statuses: list[str] = []
    bus.subscribe(lambda e: statuses.append(e.state.status) if isinstance(e, TunnelStateChanged) else None)
    service = make_service(services, make_settings(tmp_path, tunnel__provider="cloudflared"), origin, bus,
                           on_url_change=changes.append)
    service.start()
    wait_until(lambda: service.state.status == "up", message="first up")
    first_url, first_pid = service.public_url, service.pid

    os.kill(first_pid, signal.SIGKILL)

    wait_until(lambda: "down" in statuses, message="state down after the crash")
    wait_until(lambda: service.state.status == "up" and service.pid != first_pid, message="up again")
    second_url = service.public_url
    assert second_url != first_url  # a quick tunnel gets a new address on every start
    wait_until(lambda: changes[-1:] == [second_url], message="URL change announced")
    assert changes == [first_url, None, second_url]
    down = next(r.state for r in events.tunnel_states() if r.state.status == "down")
    assert "cloudflared was killed (signal 9)" in down.message and "Restarting in" in down.message
    messages = [n.message for n in events.notices("tunnel")]
    assert any("The tunnel stopped" in m for m in messages)
    assert any(first_url in m and second_url in m and "changed" in m for m in messages)
    assert httpx.post(second_url + "/webhooks/codat", content=b"{}").status_code == 204


def test_stop_terminates_the_process_group(tmp_path, monkeypatch, origin, bus_and_events, services):
    install_fakes(tmp_path, monkeypatch)
    bus, events = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="cloudflared"), origin, bus)
    service.start()
    wait_until(lambda: service.state.status == "up", message="up")
    pid = service.pid

    service.stop()

    assert not pid_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in its group either
    assert service.state.status == "off" and service.public_url is None
    assert not [n for n in events.notices("tunnel") if n.level != "info"], "a requested stop is no problem"


def test_missing_binary_is_explained(tmp_path, monkeypatch, origin, bus_and_events, services):
    install_fakes(tmp_path, monkeypatch)
    bus, events = bus_and_events
    settings = make_settings(tmp_path, tunnel__provider="cloudflared",
                             tunnel__cloudflared_path=str(tmp_path / "nowhere" / "cloudflared"))
    service = make_service(services, settings, origin, bus)
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    message = service.state.message
    assert message.startswith(f"cloudflared was not found at '{tmp_path / 'nowhere' / 'cloudflared'}'.")
    assert "Install it from https://" in message and "Settings > Tunnel" in message
    assert events.notices("tunnel")[-1].level == "error" and events.notices("tunnel")[-1].message == message


def test_missing_ngrok_binary_names_ngrok(tmp_path, monkeypatch, origin, bus_and_events, services):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    bus, _ = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus,
                           ngrok_authtoken=lambda: "2fakeTokenForTests")
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    assert service.state.message.startswith("ngrok was not found at 'ngrok'. Install it from https://ngrok.com")


def test_ngrok_url_comes_from_its_local_api_and_token_only_from_env(tmp_path, monkeypatch, origin, bus_and_events,
                                                                    services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_NGROK_LOG_URL", "0")  # only the API reveals the URL
    monkeypatch.setenv("FAKE_NGROK_EXPECTED_TOKEN", "2abcSECRETtoken")
    monkeypatch.setenv("CODATDESK_API_KEY", "codat-key-must-not-leak")
    bus, events = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus,
                           ngrok_authtoken=lambda: "2abcSECRETtoken")
    service.start()
    wait_until(lambda: service.state.status == "up", message="ngrok up")

    assert httpx.post(service.public_webhook_url, content=b"x").status_code == 204
    started = read_argv_log(argv_log)[-1]
    assert started["argv"] == ["http", origin.url.removeprefix("http://"), "--log", "stdout", "--log-format", "json"]
    assert started["token_in_env"] is True
    assert not started["env_has_api_key"]
    assert "2abcSECRETtoken" not in repr(events.events)


def test_ngrok_reserved_domain_is_passed_as_url(tmp_path, monkeypatch, origin, bus_and_events, services):
    import socket

    argv_log = install_fakes(tmp_path, monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reserved = f"http://127.0.0.1:{port}"
    bus, _ = bus_and_events
    settings = make_settings(tmp_path, tunnel__provider="ngrok", tunnel__hostname=reserved)
    service = make_service(services, settings, origin, bus, ngrok_authtoken=lambda: "2fakeTokenForTests")
    assert service.public_url is None
    service.start()
    wait_until(lambda: service.state.status == "up", message="ngrok up")
    assert service.public_url == reserved
    assert read_argv_log(argv_log)[-1]["argv"][-2:] == ["--url", reserved]


def test_missing_ngrok_token_is_explained_before_starting(tmp_path, monkeypatch, origin, bus_and_events, services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    bus, _events = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus,
                           ngrok_authtoken=lambda: None)
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    assert service.state.message.startswith("ngrok needs an auth token.")
    assert "dashboard.ngrok.com" in service.state.message and "Settings > Tunnel" in service.state.message
    assert read_argv_log(argv_log) == []


def test_ngrok_without_token_in_keyring_default(tmp_path, monkeypatch, origin, bus_and_events, services):
    """The default token source is the keyring (in-memory in tests)."""
    from codatdesk import secrets

    install_fakes(tmp_path, monkeypatch)
    bus, _ = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus)
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    assert "needs an auth token" in service.state.message

    secrets.put(secrets.NGROK_AUTHTOKEN, "keyring-token")
    service.restart()
    wait_until(lambda: service.state.status == "up", message="up with the keyring token")


def test_rejected_ngrok_token_stops_retrying_and_never_shows_the_token(tmp_path, monkeypatch, origin,
                                                                        bus_and_events, services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_NGROK_EXPECTED_TOKEN", "the-right-one")
    bus, events = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus,
                           ngrok_authtoken=lambda: "wrong-token-123")
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    message = service.state.message
    assert message.startswith("ngrok rejected the auth token (ERR_NGROK_107)")
    assert "Settings > Tunnel" in message
    assert "wrong-token-123" not in repr(events.events)
    assert len(read_argv_log(argv_log)) == 1, "a rejected token is not retried"


def test_ngrok_token_missing_at_the_agent_is_detected_as_4018(tmp_path, monkeypatch, origin, bus_and_events,
                                                              services):
    """If the token never reaches the agent, its ERR_NGROK_4018 output is explained."""
    from codatdesk.tunnel import ngrok as ngrok_module

    install_fakes(tmp_path, monkeypatch)
    monkeypatch.setattr(ngrok_module.NgrokProvider, "extra_env", lambda self: {})
    bus, _ = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="ngrok"), origin, bus,
                           ngrok_authtoken=lambda: "2fakeTokenForTests")
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    assert service.state.message.startswith("ngrok rejected the auth token (ERR_NGROK_4018)")


def test_named_cloudflared_tunnel_uses_the_hostname(tmp_path, monkeypatch, origin, bus_and_events, services):
    import socket

    argv_log = install_fakes(tmp_path, monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("FAKE_TUNNEL_LISTEN_PORT", str(port))
    bus, _ = bus_and_events
    hostname = f"http://127.0.0.1:{port}"
    changes: list = []
    settings = make_settings(tmp_path, tunnel__provider="cloudflared", tunnel__hostname=hostname)
    service = make_service(services, settings, origin, bus, on_url_change=changes.append)
    service.start()
    wait_until(lambda: service.state.status == "up", message="named tunnel up")
    assert service.public_url == hostname
    argv = read_argv_log(argv_log)[-1]["argv"]
    assert argv == ["tunnel", "--no-autoupdate", "run", "--url", origin.url, "codatdesk"]
    assert httpx.post(hostname + "/webhooks/codat", content=b"{}").status_code == 204

    # A restart keeps the stable URL: nothing to re-register.
    first_pid = service.pid
    os.kill(first_pid, signal.SIGKILL)
    wait_until(lambda: service.state.status == "up" and service.pid not in (None, first_pid), message="up again")
    wait_until(lambda: changes == [hostname], message="one announcement")
    assert service.public_url == hostname


def test_named_tunnel_setup_error_is_explained_not_retried(tmp_path, monkeypatch, origin, bus_and_events, services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_CLOUDFLARED_FAIL", 'Cannot determine default origin certificate path. No file cert.pem '
                                                'in [~/.cloudflared ~/.cloudflare-warp]')
    bus, _ = bus_and_events
    settings = make_settings(tmp_path, tunnel__provider="cloudflared", tunnel__hostname="expenses.example.com")
    service = make_service(services, settings, origin, bus)
    service.start()
    wait_until(lambda: service.state.status == "error", message="error state")
    assert "cannot run the named tunnel 'codatdesk'" in service.state.message
    assert "cloudflared tunnel login" in service.state.message
    assert len(read_argv_log(argv_log)) == 1


def test_quick_tunnel_failures_are_retried_with_backoff(tmp_path, monkeypatch, origin, bus_and_events, services):
    argv_log = install_fakes(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_CLOUDFLARED_FAIL", "Error unmarshaling QuickTunnel response: error code: 1015")
    bus, _ = bus_and_events
    service = make_service(services, make_settings(tmp_path, tunnel__provider="cloudflared"), origin, bus)
    service.start()
    wait_until(lambda: len(read_argv_log(argv_log)) >= 3, message="three attempts")
    assert service.state.status in ("down", "starting")
    wait_until(lambda: service.state.status == "down", message="down between attempts")
    assert "error code: 1015" in service.state.message


def test_manual_and_none_providers(tmp_path, origin, bus_and_events, services):
    bus, events = bus_and_events
    manual = make_service(services, make_settings(tmp_path, tunnel__provider="manual",
                                                  tunnel__public_url="https://hooks.example.com/"), origin, bus)
    manual.start()
    assert manual.state.status == "up" and manual.public_url == "https://hooks.example.com"
    assert manual.public_webhook_url == "https://hooks.example.com/webhooks/codat"

    empty = make_service(services, make_settings(tmp_path / "b", tunnel__provider="manual"), origin, bus)
    empty.start()
    assert empty.state.status == "error" and "Enter the public URL" in empty.state.message

    off = make_service(services, make_settings(tmp_path / "c"), origin, bus)
    off.start()
    assert off.state.status == "off" and off.public_url is None
    assert events.tunnel_states()[-1].state.status == "off"


def test_slow_url_change_callback_does_not_block_the_tunnel(tmp_path, monkeypatch, origin, bus_and_events, services):
    install_fakes(tmp_path, monkeypatch)
    bus, _ = bus_and_events
    release = threading.Event()
    service = make_service(services, make_settings(tmp_path, tunnel__provider="cloudflared"), origin, bus,
                           on_url_change=lambda url: release.wait(10))
    service.start()
    wait_until(lambda: service.state.status == "up", message="up while the callback blocks")
    release.set()
