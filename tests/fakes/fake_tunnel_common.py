"""Shared parts of the fake tunnel binaries: a loopback HTTP forwarder standing in for the
provider's edge, plus the environment knobs the tests use.

Knobs (environment of the fake):
  FAKE_TUNNEL_PUBLIC_SCHEME  "http": the public URL is the forwarder itself
                             (http://127.0.0.1:<port>), so the whole path is real loopback;
                             anything else: a provider-style https URL that does not resolve.
  FAKE_TUNNEL_LISTEN_PORT    port for the forwarder (stable-hostname tests); default: a free one.
  FAKE_TUNNEL_ARGV_LOG       file to append one JSON line per start: argv and whether the
                             ngrok token came through the environment.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_words(count: int = 4) -> str:
    return "-".join(random.choice(WORDS) for _ in range(count))


def record_start(argv: list[str]) -> None:
    path = os.environ.get("FAKE_TUNNEL_ARGV_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"argv": argv, "pid": os.getpid(), "pgid": os.getpgid(0),
                                 "token_in_env": bool(os.environ.get("NGROK_AUTHTOKEN")),
                                 "env_has_api_key": "CODATDESK_API_KEY" in os.environ}) + "\n")


def start_forwarder(origin: str, port: int | None = None) -> ThreadingHTTPServer:
    """Forward every request to ``origin`` (http://127.0.0.1:PORT), like the tunnel edge does."""
    target = urlsplit(origin)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep stderr for the provider-style log
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=15)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                status, reply, reply_headers = response.status, response.read(), response.getheaders()
                conn.close()
            except OSError:
                status, reply, reply_headers = 502, b"Bad gateway: origin unreachable", []
            self.send_response(status)
            for key, value in reply_headers:
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", port or 0), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def forwarder_port() -> int | None:
    value = os.environ.get("FAKE_TUNNEL_LISTEN_PORT")
    return int(value) if value else None


def loopback_public_url() -> bool:
    return os.environ.get("FAKE_TUNNEL_PUBLIC_SCHEME", "https") == "http"


def wait_for_termination(on_term) -> None:
    """Block until SIGTERM/SIGINT, then call ``on_term`` and exit 0 at once."""

    def handler(signum, frame) -> None:
        on_term()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while True:
        time.sleep(3600)  # interrupted by the signal, whose handler runs here
