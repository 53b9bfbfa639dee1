"""ngrok agent (v3): ``ngrok http 127.0.0.1:PORT --log stdout --log-format json [--url https://DOMAIN]``.

The public URL comes from the agent's local API (``GET http://127.0.0.1:4040/api/tunnels``,
``tunnels[].public_url``). The API address is not fixed: ngrok moves to 4041... when
4040 is taken, so it is read from the ``starting web service`` log line
(``addr=127.0.0.1:4040``). The auth token goes to the child only through the
``NGROK_AUTHTOKEN`` environment variable, never on the command line (visible to
every local user in ``ps``) and never in our logs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from codatdesk import secrets

from .base import ProcessProvider, ProviderRun, RunSink
from .urls import normalize_public_url

log = logging.getLogger(__name__)

INSTALL_URL = "https://ngrok.com/download"
TOKEN_URL = "https://dashboard.ngrok.com/get-started/your-authtoken"
_ADDR = re.compile(r"\baddr=(\S+)")
_UNKNOWN_FLAG = re.compile(r"unknown (?:flag|shorthand flag): '?(-[-\w]+)")
_ERR_CODE = re.compile(r"ERR_NGROK_\d+")
# 4018: no/unverified token; 105: malformed token; 107: token revoked or unknown.
_AUTH_CODES = {"ERR_NGROK_4018", "ERR_NGROK_105", "ERR_NGROK_107"}
DISCOVERY_TIMEOUT = 30.0


def _default_authtoken() -> str | None:
    try:
        return secrets.get(secrets.NGROK_AUTHTOKEN)
    except secrets.KeyringProblem as exc:
        log.warning("ngrok auth token unavailable: %s", exc)
        return None


class NgrokProvider(ProcessProvider):
    name = "ngrok"
    path_setting = "tunnel.ngrok_path"
    install_url = INSTALL_URL

    def __init__(self, settings, authtoken: Callable[[], str | None] | None = None) -> None:
        super().__init__(settings)
        self._authtoken_source = authtoken or _default_authtoken
        self._token: str | None = None

    @property
    def domain(self) -> str:
        return str(self.settings.get("tunnel.hostname") or "").strip()

    def stable_url(self) -> str | None:
        return normalize_public_url(self.domain) if self.domain else None

    def preflight(self) -> str | None:
        self._token = (self._authtoken_source() or "").strip() or None
        if not self._token:
            return (f"ngrok needs an auth token. Copy yours from {TOKEN_URL} "
                    "and enter it in Settings > Tunnel.")
        if self.domain and self.stable_url() is None:
            return f"The reserved ngrok domain '{self.domain}' is not a valid host name. Fix it in Settings > Tunnel."
        return None

    def extra_env(self) -> dict[str, str]:
        return {"NGROK_AUTHTOKEN": self._token} if self._token else {}

    def secret_values(self) -> list[str]:
        return [self._token] if self._token else []

    def argv(self, binary: str, local_url: str) -> list[str]:
        upstream = urlsplit(local_url)
        # host:port rather than a bare port: ngrok would dial "localhost", which may be ::1,
        # while the listener binds 127.0.0.1 only.
        target = f"{upstream.hostname or '127.0.0.1'}:{upstream.port or 80}"
        argv = [binary, "http", target, "--log", "stdout", "--log-format", "json"]
        if self.domain:
            argv += ["--url", self.stable_url() or self.domain]
        return argv

    def new_run(self, sink: RunSink) -> ProviderRun:
        return _NgrokRun(self, sink)


def auth_failure_message(detail: str) -> str:
    code = _ERR_CODE.search(detail)
    code_text = f" ({code.group(0)})" if code else ""
    return (f"ngrok rejected the auth token{code_text}: a valid token from a verified ngrok account is required. "
            f"Copy your token from {TOKEN_URL} and enter it in Settings > Tunnel.")


class _NgrokRun(ProviderRun):
    def __init__(self, provider: NgrokProvider, sink: RunSink) -> None:
        self.provider = provider
        self.sink = sink
        self._closed = threading.Event()
        self._discovery: threading.Thread | None = None
        self._fatal_sent = False
        self._auth_pending: str | None = None

    def on_line(self, stream: str, line: str) -> None:
        record = _parse_json(line)
        if record is not None:
            self._on_record(record)
        else:
            self._on_text(line)

    def _on_record(self, record: dict) -> None:
        message = str(record.get("msg", ""))
        error = str(record.get("err", "") or "")
        if message == "starting web service" and record.get("addr"):
            self._discover(str(record["addr"]))
        elif message == "started tunnel" and record.get("url"):
            self._found(str(record["url"]))
        if error and error != "<nil>":
            self._check_error(error)
        elif record.get("lvl") in ("eror", "crit"):
            self.sink.problem(self.provider.redact(message))

    def _on_text(self, line: str) -> None:
        # stderr banners ("ERROR:  authentication failed: ...") and logfmt lines.
        if "starting web service" in line:
            addr = _ADDR.search(line)
            if addr:
                self._discover(addr.group(1))
        if any(marker in line for marker in ("ERROR", "Error:", "ERR_NGROK", "unknown flag", "lvl=eror", "lvl=crit")):
            self._check_error(line)

    def _check_error(self, text: str) -> None:
        flag = _UNKNOWN_FLAG.search(text)
        if flag and not self._fatal_sent:
            self._fatal_sent = True
            self.sink.fatal(f"This ngrok does not understand {flag.group(1)}: it is too old. Update it "
                            f"(ngrok update, or download it from {INSTALL_URL}).")
            return
        codes = set(_ERR_CODE.findall(text))
        if codes & _AUTH_CODES:
            if not self._fatal_sent:
                self._fatal_sent = True
                self.sink.fatal(auth_failure_message(text))
            return
        if "authentication failed" in text.lower():
            # ngrok names the error code a few lines later; the message is clearer with it.
            self._auth_pending = text
            return
        cleaned = self.provider.redact(" ".join(text.replace("ERROR:", " ").split()))
        if "ERR_NGROK_108" in codes:
            cleaned = ("ngrok allows one agent session on this account and another ngrok is already running "
                       "(ERR_NGROK_108). Stop the other ngrok; codatdesk keeps retrying.")
        if cleaned:
            self.sink.problem(cleaned)

    def _found(self, url: str) -> None:
        self.sink.url_found(url.rstrip("/"))
        self.sink.ready()

    def _discover(self, addr: str) -> None:
        if self._discovery is not None:
            return
        self._discovery = threading.Thread(target=self._poll_api, args=(addr,), name="ngrok-api", daemon=True)
        self._discovery.start()

    def _poll_api(self, addr: str) -> None:
        api = f"http://{addr}/api/tunnels" if "://" not in addr else f"{addr.rstrip('/')}/api/tunnels"
        wanted = self.provider.stable_url()
        deadline = time.monotonic() + DISCOVERY_TIMEOUT
        # trust_env=False: a system proxy must never see loopback traffic.
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while not self._closed.is_set() and self.sink.alive() and time.monotonic() < deadline:
                try:
                    tunnels = http.get(api).json().get("tunnels") or []
                except (httpx.HTTPError, ValueError, AttributeError):
                    tunnels = []
                url = _pick_url(tunnels, wanted)
                if url:
                    self._found(url)
                    return
                self._closed.wait(0.1)
        if not self._closed.is_set() and self.sink.alive():
            self.sink.problem(f"ngrok's local API at {addr} listed no tunnel within {DISCOVERY_TIMEOUT:.0f} s")

    def close(self) -> None:
        if self._auth_pending and not self._fatal_sent:
            self._fatal_sent = True
            self.sink.fatal(auth_failure_message(self._auth_pending))
        self._closed.set()


def _pick_url(tunnels: list, wanted: str | None) -> str | None:
    urls = [str(t.get("public_url")) for t in tunnels if isinstance(t, dict) and t.get("public_url")]
    if wanted and wanted in urls:
        return wanted
    https = [u for u in urls if u.startswith("https://")]
    return (https or urls or [None])[0]


def _parse_json(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
