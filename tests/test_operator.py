"""Commands for the one who runs the server (#14 section 2): secrets looked up one by one, `serve`
refusing to start deaf, a running serve found through its lock file, the sandbox's knobs as flags,
and `history` / `deliveries`.

Subprocesses run the CLI as an operator would, with a keyring that stores nothing
(`keyring.backends.null`) unless a test needs the in-memory one in-process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import keyring.errors
import pytest

from codatdesk import secrets, serve_lock
from codatdesk.cli import build_parser, main, sandbox_config_from_args
from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.settings import Settings
from tests import store_kind
from tests.conftest import wait_until
from tests.engine_harness import HEADER, row
from tests.test_cli import REPO, run_cli

SIGNING = "whsec_" + "b3BlcmF0b3ItdGVzdC1zaWduaW5nLWtleS0zMmI="  # base64 of 30 bytes, any will do


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODATDESK_")}
    env.update(PYTHONPATH=str(REPO), CODATDESK_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- secrets: each one from the environment first, then the keyring -----------------------------------

def test_an_api_key_from_the_environment_does_not_hide_secrets_in_the_keyring(memory_keyring, monkeypatch):
    secrets.put(secrets.WEBHOOK_SECRETS, json.dumps(["whsec_from_keyring"]))
    secrets.put(secrets.WEBHOOK_BEARER, "Bearer keyring-token")
    secrets.put(secrets.API_KEY, "keyring-api-key")
    monkeypatch.setenv("CODATDESK_API_KEY", "env-api-key")

    assert secrets.get(secrets.API_KEY) == "env-api-key"  # the environment wins for the secret it gives
    assert secrets.signing_secrets() == ["whsec_from_keyring"]
    assert secrets.webhook_credentials().bearer == "Bearer keyring-token"
    assert secrets.source(secrets.API_KEY) == "CODATDESK_API_KEY"
    assert secrets.source(secrets.WEBHOOK_SECRETS) == "keyring"
    assert secrets.source(secrets.WEBHOOK_BASIC) is None


def test_without_a_keyring_the_environment_alone_serves_and_a_locked_keyring_is_still_reported(
        memory_keyring, monkeypatch):
    monkeypatch.setenv("CODATDESK_WEBHOOK_SECRETS", "whsec_a")
    memory_keyring.fail_with = keyring.errors.NoKeyringError("none")
    assert secrets.webhook_credentials() == secrets.WebhookCredentials(("whsec_a",), None, None)
    memory_keyring.fail_with = keyring.errors.KeyringLocked("locked")
    with pytest.raises(secrets.KeyringProblem, match="locked"):
        secrets.get(secrets.WEBHOOK_BEARER)


def test_a_missing_secret_names_both_places_to_put_it():
    message = str(secrets.SecretMissing(secrets.API_KEY))
    assert "CODATDESK_API_KEY" in message and "codatdesk settings set-secret api_key" in message


# -- serve refuses to start when it cannot authenticate a delivery ---------------------------------

@pytest.mark.parametrize("authorization,env,missing", [
    ("none", {}, ["CODATDESK_WEBHOOK_SECRETS"]),
    ("bearer", {"CODATDESK_WEBHOOK_SECRETS": SIGNING}, ["CODATDESK_WEBHOOK_BEARER"]),
    ("basic", {}, ["CODATDESK_WEBHOOK_SECRETS", "CODATDESK_WEBHOOK_BASIC"]),
])
def test_serve_refuses_to_start_without_a_way_to_authenticate_deliveries(tmp_path, authorization, env, missing):
    home = tmp_path / "home"
    port = free_port()
    assert run_cli(["settings", "set", "webhook.authorization", authorization], home=home).returncode == 0
    done = subprocess.run([sys.executable, "-m", "codatdesk.cli", "serve", "--port", str(port)],
                          env=cli_env(home, CODATDESK_API_KEY="some-key", **env), cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    for name in missing:
        assert name in done.stderr
    assert "keyring" in done.stderr and "codatdesk settings set-secret" in done.stderr
    assert "--without-secret" in done.stderr
    assert "listening" not in done.stdout
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "serve listened anyway"


# -- a running serve is found through serve.lock ------------------------------------------------------

HOLDER = """
import sys
from pathlib import Path
from codatdesk.serve_lock import ServeLock
lock = ServeLock(Path(sys.argv[1])).acquire()
lock.publish(int(sys.argv[2]), "http://127.0.0.1:%s/webhooks/codat" % sys.argv[2])
print("ready", flush=True)
sys.stdin.read()
"""


def test_serve_lock_names_the_running_serve_and_recognises_a_killed_one(tmp_path):
    path = tmp_path / "serve.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "9871"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "ready"
        running, stale = serve_lock.probe(path)
        assert running == serve_lock.ServeInfo(pid=holder.pid, port=9871, url="http://127.0.0.1:9871/webhooks/codat",
                                               started_at=running.started_at) and stale is None
        with pytest.raises(serve_lock.AlreadyServing, match=f"pid {holder.pid}, port 9871"):
            serve_lock.ServeLock(path).acquire()
    finally:
        holder.kill()  # SIGKILL: no chance to tidy up
        holder.wait(10)
    running, stale = serve_lock.probe(path)
    assert running is None and stale.pid == holder.pid, "a killed serve's file must read as stale"
    lock = serve_lock.ServeLock(path).acquire()
    assert lock.replaced_stale.pid == holder.pid
    lock.release()
    assert serve_lock.probe(path) == (None, None), "a clean stop leaves nothing that looks stale"


def test_push_finds_a_serve_started_with_port_alone_and_history_and_deliveries_show_the_webhooks(tmp_path):
    """`serve --port P` while the setting listener.port says something else: `push` still waits on it."""
    sandbox = Sandbox(SandboxConfig(push_delay=0.05, seed=41))
    server = SandboxServer(sandbox, port=0).start()
    home = tmp_path / "home"
    home.mkdir()
    Settings(home / "settings.json", environ={}).update({
        "codat.base_url": server.base_url, "codat.company_id": sandbox.company_id,
        "codat.connection_id": sandbox.connection_id, "listener.port": 0})
    port = free_port()
    env = cli_env(home, CODATDESK_API_KEY=sandbox.api_key, CODATDESK_WEBHOOK_SECRETS=SIGNING)
    if store_kind.kind() == "postgresql":  # a team's server: its intake runs in a process of its own
        env["CODATDESK_DATABASE_URL"] = store_kind.database_url(home / "codatdesk.sqlite3")
    sandbox.add_webhook_consumer(f"http://127.0.0.1:{port}/webhooks/codat", DEMO_EVENT_TYPES, secret=SIGNING)
    csv = tmp_path / "expenses.csv"
    csv.write_text(HEADER + "".join(row(i, supplier="Staples") + "\n" for i in range(1, 3)), encoding="utf-8")
    serve = subprocess.Popen([sys.executable, "-m", "codatdesk.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (serve_lock.running_serve(home / "serve.lock") is not None and
                   serve_lock.running_serve(home / "serve.lock").port == port) or serve.poll() is not None,
                   30, 0.05, "serve's lock file")
        assert serve.poll() is None
        assert serve_lock.running_serve(home / "serve.lock").pid == serve.pid

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "codatdesk.cli", *args], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=120, check=False)

        assert cli("import", str(csv)).returncode == 0
        pushed = cli("push", "--all-ready", "--wait-timeout", "60")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert f"through the running `codatdesk serve`, pid {serve.pid}, port {port}" in pushed.stdout

        history = cli("history", "1", "--json")
        assert history.returncode == 0, history.stderr
        changes = json.loads(history.stdout)["expense"]["changes"]
        assert [(c["from_status"], c["to_status"]) for c in changes] == [
            ("Not pushed", "Push in progress"), ("Push in progress", "Push complete")]
        assert changes[0]["who"] == "user"
        assert changes[1]["cause_kind"] == "webhook" and changes[1]["event_type"] == "directCosts.write.successful"
        text = cli("history", "1").stdout
        assert "Push in progress -> Push complete" in text and f"webhook delivery {changes[1]['cause_ref']}" in text

        listed = json.loads(cli("deliveries", "--json").stdout)
        assert listed["counts"].get("applied", 0) >= 2
        applied = {d["expense_id"] for d in listed["deliveries"] if d["verdict"] == "applied"}
        assert {1, 2} <= applied
        assert json.loads(cli("deliveries", "--verdict", "stale", "--json").stdout)["deliveries"] == []
        assert "applied" in cli("deliveries", "--limit", "1").stdout
    finally:
        serve.send_signal(signal.SIGTERM)
        output, _ = serve.communicate(timeout=30)
        server.stop()
        sandbox.shutdown()
    assert serve.returncode == 0, output
    assert serve_lock.probe(home / "serve.lock") == (None, None)
    if store_kind.kind() == "postgresql":  # the deliveries came through the intake process, and it stopped with serve
        log_text = (home / "logs" / "codatdesk.log").read_text(encoding="utf-8")
        assert "webhook intake process" in log_text and "[intake] webhook listener stopped" in log_text


def test_a_second_serve_of_the_same_folder_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    held = serve_lock.ServeLock(home / "serve.lock").acquire()
    held.publish(4321, "http://127.0.0.1:4321/webhooks/codat")
    try:
        done = subprocess.run([sys.executable, "-m", "codatdesk.cli", "serve", "--port", str(free_port())],
                              env=cli_env(home, CODATDESK_WEBHOOK_SECRETS=SIGNING), cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        held.release()
    assert done.returncode == 2 and f"pid {os.getpid()}, port 4321" in done.stderr, done.stderr


# -- the sandbox's knobs as flags ---------------------------------------------------------------------

def test_sandbox_flags_set_the_knobs_and_bad_ones_are_refused_by_name(capsys):
    args = build_parser().parse_args(["sandbox", "--push-delay", "0.5", "--error-rate", "0.2", "--no-webhooks",
                                      "--set", "stall_seconds=5", "--set", "push_drop_mode=timeout"])
    config = sandbox_config_from_args(args)
    assert (config.push_delay, config.error_rate, config.drop_share, config.stall_seconds, config.push_drop_mode) == (
        0.5, 0.2, 1.0, 5.0, "timeout")
    assert sandbox_config_from_args(build_parser().parse_args(["sandbox"])) == SandboxConfig()
    assert main(["sandbox", "--error-rate", "1.5"]) == 2
    assert "error_rate out of range" in capsys.readouterr().err
    assert main(["sandbox", "--set", "no_such_knob=1"]) == 2
    assert "no_such_knob" in capsys.readouterr().err


def test_the_sandbox_banner_shows_the_knobs_in_force():
    import io
    import threading

    from codatdesk.sandbox.cli import run_sandbox

    out, stop = io.StringIO(), threading.Event()
    config = sandbox_config_from_args(build_parser().parse_args(["sandbox", "--timeout-share", "0.25"]))
    worker = threading.Thread(target=run_sandbox, args=(0,), kwargs={"config": config, "out": out, "stop_event": stop})
    worker.start()
    try:
        wait_until(lambda: "Press Ctrl-C" in out.getvalue(), 20, 0.02, "the banner")
    finally:
        stop.set()
        worker.join(20)
    assert "Knobs: timeout_share=0.25" in out.getvalue()
    assert "/_sandbox/config" in out.getvalue()


# -- history and deliveries on their own --------------------------------------------------------------

def test_history_of_an_unknown_expense_says_so(capsys):
    assert main(["history", "77"]) == 2
    assert "no expense 77" in capsys.readouterr().err


def test_deliveries_rejected_explains_why_none_are_stored(capsys):
    assert main(["deliveries", "--verdict", "rejected", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stored"] is False and "codatdesk.log" in shown["meaning"]
    assert main(["deliveries"]) == 0
    assert "no delivery received yet" in capsys.readouterr().out
