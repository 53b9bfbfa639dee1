"""Output parsing, URL helpers and backoff, without processes."""

from __future__ import annotations

import pytest

from codatdesk.tunnel import Backoff, normalize_public_url, webhook_url
from codatdesk.tunnel.cloudflared import CloudflaredProvider
from codatdesk.tunnel.ngrok import NgrokProvider, _pick_url
from tests.tunnel_support import make_settings


class Sink:
    def __init__(self) -> None:
        self.urls: list[str] = []
        self.is_ready = False
        self.fatal_message: str | None = None
        self.problems: list[str] = []

    def url_found(self, url: str) -> None:
        self.urls.append(url)

    def ready(self) -> None:
        self.is_ready = True

    def fatal(self, message: str) -> None:
        self.fatal_message = message

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def alive(self) -> bool:
        return True


REAL_QUICK_TUNNEL_STDERR = """\
2024-08-27T09:12:03Z INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to experiment and try it out. However, be aware that these account-less Tunnels have no uptime guarantee. If you intend to use Tunnels in production you should use a pre-created named tunnel by following: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps
2024-08-27T09:12:03Z INF Requesting new quick Tunnel on trycloudflare.com...
2024-08-27T09:12:04Z INF +--------------------------------------------------------------------------------------------+
2024-08-27T09:12:04Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |
2024-08-27T09:12:04Z INF |  https://seasonal-harbor-dental-fifteen.trycloudflare.com                                  |
2024-08-27T09:12:04Z INF +--------------------------------------------------------------------------------------------+
2024-08-27T09:12:04Z INF Version 2024.8.2
2024-08-27T09:12:05Z INF Registered tunnel connection connIndex=0 connection=1f0a event=0 ip=198.41.192.7 location=lhr01 protocol=quic
"""


def run_lines(provider, text: str) -> Sink:
    sink = Sink()
    run = provider.new_run(sink)
    for line in text.splitlines():
        run.on_line("stderr", line)
    return sink


def test_cloudflared_quick_tunnel_url_from_the_box(tmp_path):
    sink = run_lines(CloudflaredProvider(make_settings(tmp_path)), REAL_QUICK_TUNNEL_STDERR)
    assert sink.urls == ["https://seasonal-harbor-dental-fifteen.trycloudflare.com"]
    assert sink.is_ready and sink.fatal_message is None


def test_cloudflared_request_errors_are_not_taken_for_the_url(tmp_path):
    text = ('2024-08-27T09:12:04Z ERR Error unmarshaling QuickTunnel response: error="failed to request quick '
            'Tunnel: Post \\"https://api.trycloudflare.com/tunnel\\": dial tcp: lookup api.trycloudflare.com"')
    sink = run_lines(CloudflaredProvider(make_settings(tmp_path)), text)
    assert sink.urls == [] and sink.problems and "QuickTunnel" in sink.problems[0]
    assert sink.fatal_message is None  # a quick tunnel hiccup is retried


def test_cloudflared_named_tunnel_command_and_url(tmp_path):
    provider = CloudflaredProvider(make_settings(tmp_path, tunnel__hostname="expenses.example.com"))
    assert provider.stable_url() == "https://expenses.example.com"
    assert provider.argv("/usr/bin/cloudflared", "http://127.0.0.1:8765") == [
        "/usr/bin/cloudflared", "tunnel", "--no-autoupdate", "run", "--url", "http://127.0.0.1:8765",
        "codatdesk"]
    # A named run never takes a URL from its output, even a quick-tunnel-looking one.
    assert run_lines(provider, REAL_QUICK_TUNNEL_STDERR).urls == []


def test_ngrok_logfmt_and_banner_errors(tmp_path):
    provider = NgrokProvider(make_settings(tmp_path), authtoken=lambda: "2xYzSecretToken")
    assert provider.preflight() is None
    sink = run_lines(provider, "ERROR:  authentication failed: The authtoken you specified does not look like a "
                               "proper ngrok authtoken.\nERROR:  Your authtoken: 2xYzSecretToken\n"
                               "ERROR:  ERR_NGROK_105")
    assert sink.fatal_message.startswith("ngrok rejected the auth token")
    assert "2xYzSecretToken" not in sink.fatal_message

    sink = run_lines(provider, 't=2024-08-27T09:12:04+0000 lvl=eror msg="session closing" obj=tunnels.session '
                               'err="Your account is limited to 1 simultaneous ngrok agent sessions. ERR_NGROK_108"')
    assert sink.fatal_message is None and "ERR_NGROK_108" in sink.problems[-1]


def test_old_ngrok_without_url_flag_is_explained(tmp_path):
    provider = NgrokProvider(make_settings(tmp_path), authtoken=lambda: "2xYzSecretToken")
    sink = run_lines(provider, "ERROR:  unknown flag: --url")
    assert sink.fatal_message.startswith("This ngrok does not understand --url: it is too old.")


def test_ngrok_command_never_carries_the_token(tmp_path):
    provider = NgrokProvider(make_settings(tmp_path, tunnel__hostname="quiet-owl.ngrok-free.app"),
                             authtoken=lambda: "2xYzSecretToken")
    assert provider.preflight() is None
    argv = provider.argv("ngrok", "http://127.0.0.1:8765")
    assert argv == ["ngrok", "http", "127.0.0.1:8765", "--log", "stdout", "--log-format", "json",
                    "--url", "https://quiet-owl.ngrok-free.app"]
    assert "2xYzSecretToken" not in " ".join(argv)
    assert provider.child_env()["NGROK_AUTHTOKEN"] == "2xYzSecretToken"


def test_ngrok_api_url_choice():
    tunnels = [{"public_url": "http://a.ngrok-free.app"}, {"public_url": "https://a.ngrok-free.app"}]
    assert _pick_url(tunnels, None) == "https://a.ngrok-free.app"
    assert _pick_url(tunnels, "http://a.ngrok-free.app") == "http://a.ngrok-free.app"
    assert _pick_url([], None) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("expenses.example.com", "https://expenses.example.com"),
    ("https://expenses.example.com/", "https://expenses.example.com"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("", None),
    ("ftp://x.example.com", None),
])
def test_normalize_public_url(raw, expected):
    assert normalize_public_url(raw) == expected


def test_webhook_url_appends_the_listener_path_once():
    assert webhook_url("https://a.example.com", "/webhooks/codat") == "https://a.example.com/webhooks/codat"
    assert webhook_url("https://a.example.com/webhooks/codat", "/webhooks/codat") == \
        "https://a.example.com/webhooks/codat"
    assert webhook_url(None, "/webhooks/codat") is None


def test_backoff_grows_to_the_cap_and_resets_after_a_healthy_run():
    backoff = Backoff(initial=1, factor=2, cap=5, reset_after=60)
    assert [backoff.next_delay(ran_for=1) for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.next_delay(ran_for=61) == 1
