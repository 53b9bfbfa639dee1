"""Credentials through a real Secret Service (GNOME Keyring under a private D-Bus session).

.ci/run installs gnome-keyring and dbus; elsewhere the test says what it needs and skips.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.realkeyring

SCRIPT = textwrap.dedent("""
    from codatdesk import secrets
    print("backend", secrets.check_backend())
    secrets.put(secrets.API_KEY, "real-key-123")
    secrets.add_signing_secret("whsec_first")
    secrets.add_signing_secret("whsec_second")
    print("api", secrets.require(secrets.API_KEY))
    print("secrets", ",".join(secrets.signing_secrets()))
""")


def test_api_key_and_signing_secrets_round_trip_through_gnome_keyring(tmp_path):
    missing = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install gnome-keyring dbus; .ci/run does it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODATDESK_", "DBUS_", "PYTHON_KEYRING"))}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_RUNTIME_DIR=str(tmp_path / "run"),
               CODATDESK_HOME=str(tmp_path / "home"))
    (tmp_path / "run").mkdir(mode=0o700)
    command = (f"echo unlock-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && "
               f"exec {sys.executable} -c '{SCRIPT}'")
    done = subprocess.run(["dbus-run-session", "--", "sh", "-c", command], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())
    assert "SecretService" in lines["backend"], lines["backend"]
    assert lines["api"] == "real-key-123"
    assert lines["secrets"] == "whsec_second,whsec_first"
    # Nothing was written in plain text under the data dir.
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert b"real-key-123" not in path.read_bytes()
