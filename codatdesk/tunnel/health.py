"""HealthChecker: proves the whole path Codat uses works, end to end, on a timer.

Each check posts a signed test delivery (Standard Webhooks, current signing
secret, event type ``codatdesk.selftest``, webhook-id ``msg_codatdesk_selftest_...``)
to the *public* webhook URL, i.e. through the tunnel, and waits for the core to
report that the listener stored it (``delivery_seen``). The applier marks these
deliveries ignored: they never touch expenses.

Verdicts, published as ``TunnelHealthChanged(status)``:
  healthy   arrived within ``slow_after`` seconds and the recent checks all arrived
  degraded  arrived, but slowly, or some recent checks on this URL did not arrive
  down      did not arrive within ``timeout`` (or no public URL: the tunnel is not running)
  unknown   not checked yet
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets as pysecrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from standardwebhooks.webhooks import Webhook

from codatdesk.events import EventBus, Notice, TunnelHealthChanged

log = logging.getLogger(__name__)

SELFTEST_EVENT_TYPE = "codatdesk.selftest"
SELFTEST_ID_PREFIX = "msg_codatdesk_selftest_"
HEALTHY, DEGRADED, DOWN, UNKNOWN = "healthy", "degraded", "down", "unknown"


def is_selftest(delivery_id: str | None = None, event_type: str | None = None) -> bool:
    return bool((delivery_id and delivery_id.startswith(SELFTEST_ID_PREFIX)) or event_type == SELFTEST_EVENT_TYPE)


def signed_selftest(secret: str | None, *, now: dt.datetime | None = None) -> tuple[str, bytes, dict[str, str]]:
    """(delivery id, raw body, headers) of one self-test delivery, signed if a secret is given."""
    now = now or dt.datetime.now(dt.UTC)
    delivery_id = SELFTEST_ID_PREFIX + pysecrets.token_hex(12)
    body = json.dumps({
        "id": str(uuid.uuid4()),
        "eventType": SELFTEST_EVENT_TYPE,
        "generatedDate": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "payload": {"note": "codatdesk tunnel self-test; never applied to expenses"},
    }, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "codatdesk-selftest",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        # Free ngrok accounts put a warning page in front of browser-like requests.
        "ngrok-skip-browser-warning": "1",
    }
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(delivery_id, now, body.decode())
    return delivery_id, body, headers


@dataclass(frozen=True)
class HealthResult:
    status: str
    round_trip: float | None  # seconds from sending to the listener storing it
    message: str
    url: str | None
    checked_at: dt.datetime


class HealthChecker:
    def __init__(
        self,
        public_webhook_url: Callable[[], str | None],
        secret: Callable[[], str | None],
        bus: EventBus,
        interval: float,
        *,
        timeout: float = 10.0,
        slow_after: float = 3.0,
        window: int = 5,
        tunnel_state: Callable[[], object] | None = None,
        authorization: Callable[[], str | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = public_webhook_url
        self._secret = secret
        self.bus = bus
        self.interval = interval
        self.timeout = timeout
        self.slow_after = slow_after
        self._tunnel_state = tunnel_state
        self._authorization = authorization  # the Authorization header Codat's Portal adds, if the listener wants one
        self._transport = transport
        self._pending: dict[str, tuple[float, threading.Event, list[float]]] = {}
        self._pending_lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._history: deque[bool] = deque(maxlen=window)  # arrived? for the current URL only
        self._history_url: str | None = None
        self._last: HealthResult | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ public API

    @property
    def last(self) -> HealthResult | None:
        return self._last

    @property
    def status(self) -> str:
        return self._last.status if self._last else UNKNOWN

    def start(self) -> None:
        """Check every ``interval`` seconds on a daemon thread (first check after one interval
        or ``check_soon``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._loop, name="tunnel-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._pending_lock:
            for _, arrived, _ in self._pending.values():
                arrived.set()  # release a check in progress
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.timeout + 5)
        self._thread = None

    def check_soon(self) -> None:
        """Run the next periodic check now (e.g. after the public URL changed)."""
        self._wake.set()

    def delivery_seen(self, delivery_id: str) -> None:
        """The core calls this when the listener stored a delivery; other ids are ignored."""
        if not delivery_id.startswith(SELFTEST_ID_PREFIX):
            return
        with self._pending_lock:
            entry = self._pending.get(delivery_id)
            if entry is not None and not entry[2]:
                entry[2].append(time.monotonic() - entry[0])
                entry[1].set()

    def check_now(self) -> float | None:
        """One self-test, blocking up to ``timeout``. Returns the round trip in seconds, or None."""
        with self._check_lock:
            result = self._check()
            if not self._stop.is_set():  # a check cut short by stop() says nothing about the tunnel
                self._record(result)
            return result.round_trip

    # ------------------------------------------------------------------ internals

    def _loop(self) -> None:
        # The first check waits an interval (or check_soon): at start-up the tunnel is still connecting.
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check_now()
            except Exception:
                log.exception("tunnel self-test failed unexpectedly")

    def _check(self) -> HealthResult:
        now = dt.datetime.now(dt.UTC)
        url = self._url()
        if not url:
            state = self._tunnel_state() if self._tunnel_state else None
            reason = getattr(state, "message", "")
            message = "No public URL: the tunnel is not running" + (f" ({reason})" if reason else "")
            return HealthResult(DOWN, None, message, None, now)
        if url != self._history_url:
            self._history_url = url  # a new tunnel address starts a fresh record
            self._history.clear()
        secret = self._secret()
        delivery_id, body, headers = signed_selftest(secret, now=now)
        authorization = self._authorization() if self._authorization else None
        if authorization:
            headers["Authorization"] = authorization
        arrived = threading.Event()
        seen: list[float] = []
        started = time.monotonic()
        with self._pending_lock:
            self._pending[delivery_id] = (started, arrived, seen)
        try:
            problem = self._post(url, body, headers)
            if problem is None:
                arrived.wait(max(0.0, self.timeout - (time.monotonic() - started)))
        finally:
            with self._pending_lock:
                self._pending.pop(delivery_id, None)
        if seen:
            round_trip = seen[0]
            slow = round_trip > self.slow_after
            misses = self._history.count(False)
            self._history.append(True)
            if slow:
                return HealthResult(DEGRADED, round_trip, f"slow: the test delivery took {round_trip:.1f} s", url, now)
            if misses:
                return HealthResult(DEGRADED, round_trip, f"intermittent: {misses} of the last "
                                                          f"{len(self._history)} test deliveries did not arrive",
                                    url, now)
            return HealthResult(HEALTHY, round_trip, f"test delivery arrived in {round_trip * 1000:.0f} ms", url, now)
        self._history.append(False)
        if problem is None:
            problem = f"the test delivery did not reach the listener within {self.timeout:g} s"
        if not secret:
            problem += " (no webhook signing secret is set, so it could not be signed)"
        return HealthResult(DOWN, None, problem, url, now)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None if the listener accepted it (2xx); otherwise what went wrong, in plain words."""
        try:
            with httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=False) as http:
                response = http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return f"the tunnel did not answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"could not reach {url}: {type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        if response.status_code in (401, 403):
            return (f"the listener rejected the signed test delivery ({response.status_code}): "
                    "check the webhook signing secret in Settings")
        return f"{url} answered {response.status_code}"

    def _record(self, result: HealthResult) -> None:
        previous = self._last.status if self._last else UNKNOWN
        self._last = result
        log.log(logging.INFO if result.status == HEALTHY else logging.WARNING,
                "tunnel health %s: %s", result.status, result.message)
        self.bus.publish(TunnelHealthChanged(result.status, result.message, result.url, result.round_trip,
                                             result.checked_at))
        if result.status == previous:
            return
        if result.status == DOWN:
            self.bus.publish(Notice("warning", f"Codat cannot reach this computer: {result.message}.",
                                    topic="tunnel_health"))
        elif result.status == DEGRADED:
            self.bus.publish(Notice("warning", f"Webhook deliveries are unreliable: {result.message}.",
                                    topic="tunnel_health"))
        elif previous in (DOWN, DEGRADED):
            self.bus.publish(Notice("info", "Webhook deliveries reach this computer again.", topic="tunnel_health"))
