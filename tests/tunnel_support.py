"""Helpers for the tunnel tests: fake binaries on PATH, an event recorder, a loopback origin."""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from codatdesk.events import Notice, TunnelHealthChanged, TunnelStateChanged, WebhookRegistrationChanged
from codatdesk.settings import Settings

FAKES = Path(__file__).resolve().parent / "fakes"


def install_fakes(tmp_path: Path, monkeypatch, *, loopback: bool = True) -> Path:
    """Put ``cloudflared`` and ``ngrok`` wrappers first on PATH.

    The fakes say ``#!/usr/bin/env python3``, which may not be this venv's Python, so each
    wrapper carries ``sys.executable`` in its shebang and runs the fake from tests/fakes.
    Returns the argv log file (one JSON line per start).
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("cloudflared", "ngrok"):
        wrapper = bin_dir / name
        wrapper.write_text(
            f"#!{sys.executable}\n"
            "import runpy, sys\n"
            f"sys.argv[0] = {name!r}\n"
            f"runpy.run_path({str(FAKES / name)!r}, run_name='__main__')\n",
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    if loopback:
        monkeypatch.setenv("FAKE_TUNNEL_PUBLIC_SCHEME", "http")
    argv_log = tmp_path / "fake-argv.jsonl"
    monkeypatch.setenv("FAKE_TUNNEL_ARGV_LOG", str(argv_log))
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    return argv_log


def read_argv_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_settings(tmp_path: Path, **values) -> Settings:
    settings = Settings(tmp_path / "settings.json", environ={})
    settings.update({key.replace("__", "."): value for key, value in values.items()})
    return settings


class Recorder:
    """Bus subscriber that keeps every event (thread-safe)."""

    def __init__(self) -> None:
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def notices(self, topic: str | None = None) -> list[Notice]:
        with self._lock:
            return [e for e in self.events if isinstance(e, Notice) and (topic is None or e.topic == topic)]

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def tunnel_states(self) -> list[TunnelStateChanged]:
        return self.of(TunnelStateChanged)

    def health(self) -> list[TunnelHealthChanged]:
        return self.of(TunnelHealthChanged)

    def registrations(self) -> list[WebhookRegistrationChanged]:
        return self.of(WebhookRegistrationChanged)


class Origin:
    """A loopback HTTP server standing in for the webhook listener: records POSTs, answers 204."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, bytes]] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                origin.requests.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state where /proc exists.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False
    return True
