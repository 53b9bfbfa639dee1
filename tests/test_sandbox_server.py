"""The sandbox over a real loopback socket (SandboxServer) and the standalone CLI entry."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.sandbox.cli import run_sandbox
from tests.openapi_schemas import validate, validate_webhook
from tests.sandbox_support import Receiver, auth_header, direct_cost, wait_until


@pytest.fixture
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02))
    server = SandboxServer(sandbox, host="127.0.0.1", port=0)
    server.start()
    yield sandbox, server
    server.stop()
    sandbox.shutdown()


def test_full_flow_over_loopback(served: tuple[Sandbox, SandboxServer]) -> None:
    sb, server = served
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url) and server.port > 0
    receiver = Receiver()
    try:
        with httpx.Client(base_url=server.base_url, headers=auth_header(sb.api_key), trust_env=False) as client:
            assert client.get("/companies", headers={"Authorization": "Basic eA=="}).status_code == 401
            companies = client.get("/companies")
            assert companies.status_code == 200 and "X-Rate-Limit-Remaining" in companies.headers
            validate(companies.json(), "Codat-Platform.json", "Companies", strict=True)

            created = client.post("/webhooks", json={"url": receiver.url(), "eventTypes": ["directCosts.write.successful"]})
            assert created.status_code == 201
            secret = sb.consumer_secret(created.json()["id"])

            url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/directCosts"
            pushed = client.post(url, json=direct_cost(sb))
            validate(pushed.json(), "Codat-Platform.json", "PushOperation", strict=True)
            (message,) = receiver.wait_for(1)
            event = Webhook(secret).verify(message.body, message.headers)
            validate_webhook(event, "directCosts.write.successful", strict=True)
            assert event["payload"]["id"] == pushed.json()["pushOperationKey"]

            final = client.get(f"/companies/{sb.company_id}/push/{pushed.json()['pushOperationKey']}").json()
            assert final["status"] == "Success"
            assert client.post(url, content=b"{oops", headers={"content-type": "application/json"}).status_code == 400
    finally:
        receiver.stop()


def test_steering_over_http(served: tuple[Sandbox, SandboxServer]) -> None:
    sb, server = served
    with httpx.Client(base_url=server.base_url, trust_env=False) as plain:
        assert plain.post("/_sandbox/config", json={"latency": 0.01, "error_rate": 0.0}).status_code == 200
        assert sb.config.latency == 0.01
        status_url = f"/_sandbox/companies/{sb.company_id}/connections/{sb.connection_id}/status"
        assert plain.post(status_url, json={"status": "Deauthorized"}).json()["status"] == "Deauthorized"
        info = plain.get("/_sandbox").json()
        assert info["apiKey"] == sb.api_key and info["config"]["latency"] == 0.01


def test_stop_releases_the_port() -> None:
    sandbox = Sandbox(SandboxConfig())
    try:
        first = SandboxServer(sandbox).start()
        port = first.port
        first.stop()
        again = SandboxServer(sandbox, port=port).start()  # the same port binds again
        assert httpx.get(again.base_url + "/_sandbox", trust_env=False).status_code == 200
        again.stop()
        with pytest.raises(httpx.TransportError):
            httpx.get(again.base_url + "/_sandbox", trust_env=False, timeout=1)
    finally:
        sandbox.shutdown()


class _Output(io.StringIO):
    """A StringIO that other threads can print to while the test reads it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()


def test_run_sandbox_prints_what_a_script_needs_and_stops_cleanly() -> None:
    out, stop = _Output(), threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(
        run_sandbox(0, config=SandboxConfig(push_delay=0.01), out=out, stop_event=stop)))
    thread.start()
    try:
        banner = wait_until(lambda: re.search(r"base URL:\s+(\S+)", out.text()), timeout=10)
        base_url = banner.group(1)
        text = out.text()
        api_key = re.search(r"API key:\s+(\S+)", text).group(1)
        company_id = re.search(r"company id:\s+(\S+)", text).group(1)
        assert re.search(r"connection id:\s+\S+", text) and "signing secrets" in text
        receiver = Receiver()
        try:
            with httpx.Client(base_url=base_url, headers=auth_header(api_key), trust_env=False) as client:
                assert client.get(f"/companies/{company_id}").status_code == 200
                created = client.post("/webhooks", json={"url": receiver.url(),
                                                         "eventTypes": ["directCosts.write.unsuccessful"]})
                assert created.status_code == 201
                printed = wait_until(lambda: re.search(r"signing secret: (whsec_\S+)", out.text()))
                connection_id = re.search(r"connection id:\s+(\S+)", text).group(1)
                pushed = client.post(f"/companies/{company_id}/connections/{connection_id}/push/directCosts",
                                     json={"currency": "GBP"})
                assert pushed.status_code == 200
            (message,) = receiver.wait_for(1)
            Webhook(printed.group(1)).verify(message.body, message.headers)  # the printed secret is the real one
            key = pushed.json()["pushOperationKey"]
            wait_until(lambda: f"push {key} directCosts: Failed (" in out.text())
            wait_until(lambda: re.search(r"webhook directCosts.write.unsuccessful msg_\S+ -> \S+: 200", out.text()))
        finally:
            receiver.stop()
    finally:
        stop.set()
        thread.join(10)
    assert result == [0] and "stopped" in out.text()


def test_run_sandbox_reports_a_busy_port() -> None:
    sandbox = Sandbox(SandboxConfig())
    server = SandboxServer(sandbox).start()
    try:
        assert run_sandbox(server.port, out=io.StringIO()) == 1
    finally:
        server.stop()
        sandbox.shutdown()
