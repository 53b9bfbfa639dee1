"""Secrets: no API key, signing secret or Authorization value in any file codatdesk writes,
and the listener binds only 127.0.0.1.

Runs after the other suites (see conftest.py) and scans every data dir they used, plus
its own run: ``codatdesk serve`` and ``codatdesk push`` as subprocesses with their
secrets in the environment, a Bearer-protected listener fed with forged and genuine
deliveries, a wrong API key, and a crash report.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as random_secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.webhooks import ListenerConfig, ListenerError, Verifier, WebhookListener
from tests.conftest import wait_until
from tests.engine_harness import HEADER, Harness, row
from tests.reliability.support import REGISTRY, free_port, new_secret, report, sign, write_event

pytestmark = pytest.mark.reliability
REPO = Path(__file__).resolve().parents[2]


def forms(secret: str) -> dict[str, bytes]:
    """The shapes a secret can leak in: as is, base64 (a Basic header), URL-quoted, a signing key's bytes."""
    shapes = {"as is": secret.encode(), "base64": base64.b64encode(secret.encode()),
              "url-quoted": quote(secret, safe="").encode()}
    if secret.startswith("whsec_"):
        shapes["key bytes"] = base64.b64decode(secret.removeprefix("whsec_") + "==")
    if ":" in secret:  # user:password: the password alone
        shapes["password"] = secret.partition(":")[2].encode()
    return {name: value for name, value in shapes.items() if len(value) >= 8}


def leaks(directories: list[Path], values: set[str]) -> list[str]:
    found = []
    for directory in directories:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            data = path.read_bytes()
            for number, secret in enumerate(sorted(values)):
                for shape, needle in forms(secret).items():
                    if needle in data:  # name the secret by its first characters only
                        found.append(f"{path}: secret #{number} ({secret[:6]}…) {shape}")
    return found


def cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codatdesk", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, **kwargs)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (Linux /proc)."""
    found = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # LISTEN
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    raw = bytes.fromhex(address)
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))
    return found


def test_serve_and_push_leave_no_secret_behind(data_dir, tmp_path):
    sandbox = Sandbox(SandboxConfig(push_delay=0.1, seed=31))
    server = SandboxServer(sandbox).start()
    signing = REGISTRY.secret(new_secret(random_secrets.token_bytes(32)))
    bearer = REGISTRY.secret("bearer-" + random_secrets.token_urlsafe(24))
    wrong_key = REGISTRY.secret("sbx_wrong_" + random_secrets.token_hex(16))
    REGISTRY.secret(sandbox.api_key)
    port = free_port()
    home = REGISTRY.directory(tmp_path / "serve-home")
    home.mkdir()
    env = {**os.environ, "CODATDESK_HOME": str(home), "CODATDESK_API_KEY": sandbox.api_key,
           "CODATDESK_WEBHOOK_SECRETS": signing, "CODATDESK_WEBHOOK_BEARER": bearer, "PYTHONPATH": str(REPO)}
    sandbox.config.delivery_authorization = f"Bearer {bearer}"
    sandbox.add_webhook_consumer(f"http://127.0.0.1:{port}/webhooks/codat", DEMO_EVENT_TYPES, secret=signing)
    serve = None
    try:
        for key, value in (("codat.base_url", server.base_url), ("codat.company_id", sandbox.company_id),
                           ("codat.connection_id", sandbox.connection_id), ("listener.port", str(port)),
                           ("webhook.authorization", "bearer")):
            assert cli(["settings", "set", key, value], env).returncode == 0
        serve = subprocess.Popen([sys.executable, "-m", "codatdesk", "serve"], env=env, cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}/webhooks/codat"
        wait_until(lambda: listening_addresses(port) or serve.poll() is not None, 30, 0.05, "serve listening")
        assert serve.poll() is None
        assert listening_addresses(port) == {"127.0.0.1"}, "serve listens beyond loopback"

        csv = tmp_path / "expenses.csv"
        csv.write_text(HEADER + "".join(row(i, supplier="Staples") + "\n" for i in range(6)),  # a known supplier (#12)
                       encoding="utf-8")
        assert cli(["import", str(csv)], env).returncode == 0
        pushed = cli(["push", "--all-ready", "--wait-timeout", "60"], env)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        # Forged deliveries carrying credentials: wrong token, right token with a bad signature, the API key.
        body = write_event("nobody", "Success", "evt-forged")
        api_basic = "Basic " + base64.b64encode(sandbox.api_key.encode()).decode()
        for authorization, secret in ((f"Bearer {bearer}x", signing), (f"Bearer {bearer}", new_secret(b"x")),
                                      (api_basic, signing), (f"Basic {base64.b64encode(bearer.encode()).decode()}",
                                                             signing)):
            answer = httpx.post(url, content=body, headers={**sign(secret, "msg_forged", body),
                                                            "authorization": authorization}, trust_env=False)
            assert answer.status_code == 401
            assert bearer not in answer.text and sandbox.api_key not in answer.text
        # A wrong API key: Codat says 401, and codatdesk says so without repeating it.
        api_key_env = {**env, "CODATDESK_API_KEY": wrong_key}
        refused = cli(["reconcile"], api_key_env)
        shown = cli(["settings"], env)
        listed = cli(["list", "--json"], env)
        assert json.loads(listed.stdout)["expenses"] and all(
            e["status"] == "Push complete" for e in json.loads(listed.stdout)["expenses"])
        for output in (pushed.stdout + pushed.stderr, refused.stdout + refused.stderr, shown.stdout + shown.stderr,
                       listed.stdout):
            for secret in (signing, bearer, sandbox.api_key, wrong_key):
                assert secret not in output, "a secret was printed"
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            output, _ = serve.communicate(timeout=30)
            for secret in (signing, bearer, sandbox.api_key):
                assert secret not in output
        server.stop()
        sandbox.shutdown()
    assert (home / "logs" / "codatdesk.log").exists()
    assert not leaks([home], REGISTRY.values)


def test_a_crash_report_carries_no_secret(data_dir, qapp):
    """The crash reporter logs the traceback and builds the dialog's details from an exception that,
    in the worst case, quotes credentials."""
    crash = pytest.importorskip("codatdesk.ui.crash")
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=37))
    h.start_sandbox()
    try:
        core = h.start_core()
        REGISTRY.secret(h.sandbox.api_key)
        REGISTRY.secret(h.secrets[0])
        core.client()  # as at any start: the API key is loaded
        basic = base64.b64encode(h.sandbox.api_key.encode()).decode()
        details: list[str] = []
        # The reporter lives as long as the test, like the app's lives as long as the app: a QObject
        # with a queued call pending must not be freed by the garbage collector at an arbitrary moment.
        reporter = crash.CrashReporter(data_dir / "logs" / "codatdesk.log")
        reporter.crashed.connect(lambda summary, text: details.append(summary + "\n" + text))
        try:
            raise RuntimeError(f"request failed: key={h.sandbox.api_key} headers={{'Authorization': 'Basic {basic}'}} "
                               f"secret={h.secrets[0]}")
        except RuntimeError as exc:
            reporter.report(type(exc), exc, exc.__traceback__, "worker")
        qapp.processEvents()  # the queued dialog opens, as it would in the app
        assert details and reporter.dialog is not None
        for secret in (h.sandbox.api_key, h.secrets[0], basic):
            assert secret not in reporter.dialog.details.toPlainText()
        reporter.dialog.close()
        reporter.deleteLater()
        qapp.processEvents()
        for secret in (h.sandbox.api_key, h.secrets[0], basic):
            assert secret not in details[0]
    finally:
        h.stop()
    for handler in __import__("logging").getLogger().handlers:
        handler.flush()
    assert not leaks([data_dir], REGISTRY.values)


def test_the_listener_binds_only_loopback(data_dir):
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=41))
    h.start_sandbox()
    try:
        core = h.start_core()
        port = core.listener.port
        assert core.listener._socket.getsockname()[0] == "127.0.0.1"
        if Path("/proc/net/tcp").exists():  # what the kernel says is listening on that port
            assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        h.stop()
    verifier = Verifier(lambda: None, require_signature=True)
    for host in ("0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "localhost", "example.com", "127.0.0.1.nip.io"):
        listener = WebhookListener(ListenerConfig(host=host, port=0), verifier, inbox=None, on_stored=lambda r: None)
        with pytest.raises(ListenerError):
            listener.start()
        assert not listener.running


def test_no_file_of_any_suite_holds_a_secret():
    """The scan over every data dir the reliability suites used in this session."""
    started = time.monotonic()
    dirs = [d for d in REGISTRY.dirs if d.exists()]
    assert dirs and REGISTRY.values
    found = leaks(dirs, REGISTRY.values)
    assert not found, "secrets found in files:\n" + "\n".join(found[:20])
    files = sum(1 for d in dirs for p in d.rglob("*") if p.is_file())
    report("secrets", data_dirs=len(dirs), files=files, secrets=len(REGISTRY.values),
           seconds=round(time.monotonic() - started, 1), result="passed")
