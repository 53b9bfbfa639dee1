"""``codatdesk --self-test`` from source: every check passes here, and each can fail."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backends.fail

from codatdesk import selftest
from codatdesk.selftest import ALLOW_NO_KEYRING_ENV, CHECKS, RESOURCES, run_self_test

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(PASS|WARN|FAIL) ([a-z-]+): (\S.*)$")


def run(**kwargs) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_self_test(out=out, **kwargs)
    return code, out.getvalue().splitlines()


def verdicts(lines: list[str]) -> dict[str, tuple[str, str]]:
    found = {}
    for line in lines[:-1]:
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        found[match.group(2)] = (match.group(1), match.group(3))
    return found


def test_every_check_passes_from_source_one_line_each():
    code, lines = run()
    found = verdicts(lines)
    assert list(found) == [name for name, _ in CHECKS]
    assert {name: v for name, (v, _) in found.items() if v != "PASS"} == {}, lines
    assert code == 0
    assert re.match(r"^self-test: 11 passed, 0 warned, 0 failed in [\d.]+ s \(source, ", lines[-1])
    assert "Push complete" in found["push"][1]
    assert "12 rows" in found["window"][1]


def test_an_unusable_keyring_fails_unless_allowed(monkeypatch):
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the autouse fixture restores the previous one
    code, lines = run(only=["keyring"])
    verdict, detail = verdicts(lines)["keyring"]
    assert (code, verdict) == (1, "FAIL")
    assert detail.startswith("keyring.backends.fail.Keyring: No usable keyring was found")

    monkeypatch.setenv(ALLOW_NO_KEYRING_ENV, "1")
    code, lines = run(only=["keyring"])
    verdict, detail = verdicts(lines)["keyring"]
    assert (code, verdict) == (0, "WARN")
    assert f"allowed: {ALLOW_NO_KEYRING_ENV}=1" in detail


def test_a_taken_webhook_port_is_named():
    from codatdesk.settings import Settings

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        Settings().set("listener.port", str(port))
        code, lines = run(only=["webhook-port"])
    verdict, detail = verdicts(lines)["webhook-port"]
    assert (code, verdict) == (0, "WARN")
    assert f"port {port} on 127.0.0.1 is already in use" in detail


def test_a_missing_resource_fails_naming_it(monkeypatch):
    monkeypatch.setattr(selftest, "RESOURCES", (*RESOURCES, "icons/not-there.png"))
    code, lines = run(only=["resources"])
    verdict, detail = verdicts(lines)["resources"]
    assert (code, verdict) == (1, "FAIL")
    assert "icons/not-there.png" in detail


def test_a_module_that_does_not_import_fails(monkeypatch):
    real_import = __import__

    def broken(name, *args, **kwargs):
        if name == "codatdesk.tunnel.ngrok":
            raise ImportError("no module named 'missing_dependency'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "codatdesk.tunnel.ngrok")
    monkeypatch.setattr("builtins.__import__", broken)
    code, lines = run(only=["imports"])
    verdict, detail = verdicts(lines)["imports"]
    assert (code, verdict) == (1, "FAIL")
    assert "codatdesk.tunnel.ngrok: ImportError: no module named 'missing_dependency'" in detail


def test_resources_list_covers_every_resource_the_package_opens():
    used = set()
    for path in (ROOT / "codatdesk").rglob("*.py"):
        used.update(re.findall(r"""resource\(\s*["']([^"']+)["']""", path.read_text(encoding="utf-8")))
    assert used and used <= set(RESOURCES), f"add to selftest.RESOURCES: {sorted(used - set(RESOURCES))}"


def test_the_command_line_exit_code_and_the_keyring_allowance(tmp_path):
    """Through ``codatdesk --self-test`` in a fresh process, with the keyring forced to the failing backend."""
    env = {**os.environ, "CODATDESK_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", ALLOW_NO_KEYRING_ENV: "1"}
    done = subprocess.run([sys.executable, "-m", "codatdesk", "--self-test"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdicts(lines)["keyring"][0] == "WARN"
    assert "10 passed, 1 warned, 0 failed" in lines[-1]
