"""The embedded webhook listener: Starlette on uvicorn in a background thread.

One route, ``POST {path}``, on a loopback address only (the tunnel agent connects
locally). The handler caps and times the body read, verifies the raw bytes, commits
the delivery to the inbox (in a worker thread) and only then answers 2xx. Nothing in
here may produce a 500 or a traceback in a response: unexpected errors become 503 so
Codat retries.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from codatdesk.events import DeliveryRecorded, EventBus, ListenerStateChanged, Notice
from codatdesk.webhooks.header_deadline import HeaderDeadlines
from codatdesk.webhooks.inbox import Inbox, StoreResult
from codatdesk.webhooks.parse import peek_event_type
from codatdesk.webhooks.verify import NO_SECRET_REASON, ListenerError, Rejected, Verifier

log = logging.getLogger(__name__)

CLOCK_SKEW_MESSAGE = ("Webhook deliveries are being rejected because this computer's clock differs from "
                      "Codat's by more than 5 minutes. Check the date, time and time zone.")
NO_SECRET_MESSAGE = ("A webhook delivery was rejected because no webhook signing secret is stored. Copy the "
                     "endpoint's signing secret from the Codat Portal into Settings.")
CLOCK_SKEW_REPEATS = 3
CLOCK_SKEW_WINDOW_SECONDS = 600.0
RECENT_REJECTIONS = 500
START_TIMEOUT_SECONDS = 10.0
WORKERS = 16
_SCOPE_RECORDED = "codatdesk.rejection_recorded"


@dataclass(frozen=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 8765  # 0 picks a free port (tests)
    path: str = "/webhooks/codat"
    max_body_bytes: int = 262144
    read_timeout: float = 5.0  # seconds a client may take to send headers, or the body
    max_concurrency: int = 64  # requests in flight; 503 above

    @classmethod
    def from_settings(cls, settings: Any) -> ListenerConfig:
        return cls(port=int(settings.get("listener.port")), path=str(settings.get("listener.path")),
                   max_body_bytes=int(settings.get("listener.max_body_bytes")),
                   read_timeout=float(settings.get("listener.read_timeout")),
                   max_concurrency=int(settings.get("listener.max_concurrency")))


class WebhookListener:
    """``start()`` binds and serves; ``stop()`` shuts down and joins the thread.

    ``on_stored`` is called on the listener's event loop for every stored delivery,
    new or duplicate (``result.is_new``); it must only enqueue.
    """

    def __init__(self, config: ListenerConfig, verifier: Verifier, inbox: Inbox,
                 on_stored: Callable[[StoreResult], None], bus: EventBus | None = None) -> None:
        if not config.path.startswith("/"):
            raise ListenerError(f"listener path must start with '/': {config.path!r}")
        self.config = config
        self._verifier = verifier
        self._inbox = inbox
        self._on_stored = on_stored
        self._bus = bus
        self._lock = threading.Lock()
        self._stats: Counter[int] = Counter()
        self._rejections: deque[tuple[float, int, str]] = deque(maxlen=RECENT_REJECTIONS)
        self._skew_times: deque[float] = deque()
        self._skew_noticed_at: float | None = None
        self._no_secret_noticed_at: float | None = None
        self._in_flight = 0  # touched only on the event loop
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._failure: BaseException | None = None
        self._port: int | None = None
        self._deadlines = HeaderDeadlines(config.read_timeout)
        self._app = _CatchAll(Router(routes=[Route(config.path, self._handle, methods=["POST"])],
                                     redirect_slashes=False), self)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise ListenerError("the webhook listener is already running")
        self._failure = None
        sock = _bind(self.config.host, self.config.port)
        self._socket = sock
        self._port = sock.getsockname()[1]
        # Verification (its credentials callable may hit the keyring) and inbox inserts
        # (SQLite may wait for the write lock) both run here, never on the event loop.
        # Enough workers that concurrent deliveries reach the inbox together and share
        # one commit (its group commit); a waiting worker costs no CPU.
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="webhook-worker")
        uv_config = uvicorn.Config(
            app=self._app,
            # uvicorn's httptools protocol (a C parser: h11's pure-Python one cost a team server's listener a fifth
            # of its interpreter under load, B7), inside our deadline for request heads.
            http=self._deadlines.wrap(HttpToolsProtocol),
            ws="none",
            lifespan="off",
            interface="asgi3",
            loop="asyncio",
            log_config=None,  # never reconfigure the app's logging
            log_level=None,
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,
            # uvicorn counts open connections (idle keep-alive ones too, and the current
            # one) and tasks: a coarse backstop only. The exact in-flight cap is ours.
            limit_concurrency=self.config.max_concurrency * 2 + 8,
            timeout_keep_alive=max(1, min(5, int(self.config.read_timeout))),
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(uv_config)
        self._server = server
        thread = threading.Thread(target=self._serve, args=(server, sock), name="webhook-listener", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                failure = self._failure
                self._cleanup(join=True)
                raise ListenerError(f"the webhook listener on {self.config.host}:{self._port} did not start"
                                    + (f": {failure!r}" if failure else ""))
            thread.join(0.01)
        log.info("webhook listener on %s", self.url)
        self._publish(ListenerStateChanged(self.url))

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        if self._server is not None:
            self._server.should_exit = True
        self._cleanup(join=True, timeout=timeout)
        log.info("webhook listener stopped")
        self._publish(ListenerStateChanged(None))

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - includes uvicorn's sys.exit on startup failure; start() reports it
            self._failure = exc
            log.error("webhook listener stopped unexpectedly: %r", exc)

    def _cleanup(self, *, join: bool, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if join and self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(2.0)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = self._executor = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.config.port

    @property
    def url(self) -> str:
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.config.path}"

    @property
    def stats(self) -> dict[int, int]:
        """Responses sent, by status code."""
        with self._lock:
            return dict(self._stats)

    @property
    def recent_rejections(self) -> list[tuple[float, int, str]]:
        """(unix time, status, reason), oldest first, at most 500."""
        with self._lock:
            return list(self._rejections)

    # --- the route -------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        if self._in_flight >= self.config.max_concurrency:
            return self._reject(request, 503, "too many deliveries in flight", retry_after=True)
        self._in_flight += 1
        try:
            return await self._handle_delivery(request)
        except Exception as exc:
            log.exception("webhook listener: unexpected error handling a delivery")
            return self._reject(request, 503, f"internal error ({type(exc).__name__})")
        finally:
            self._in_flight -= 1

    async def _handle_delivery(self, request: Request) -> Response:
        cap = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return self._reject(request, 400, "invalid Content-Length")
            if int(declared) > cap:
                return self._reject(request, 413, f"body of {int(declared)} bytes is above the {cap} byte limit")

        body = bytearray()
        try:
            async with asyncio.timeout(self.config.read_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > cap:
                        return self._reject(request, 413, f"body is above the {cap} byte limit")
        except TimeoutError:
            return self._reject(request, 408, f"body not received within {self.config.read_timeout:g} s")
        except ClientDisconnect:
            return self._reject(request, 400, "client disconnected before sending the whole body")
        raw = bytes(body)

        loop = asyncio.get_running_loop()
        headers = dict(request.headers.items())
        try:
            verified, event_type, detail, result = await loop.run_in_executor(
                self._executor, self._verify_and_store, headers, raw)
        except Rejected as rejected:
            if rejected.clock_skew:
                self._note_clock_skew()
            elif rejected.reason == NO_SECRET_REASON:
                self._note_missing_secret()
            return self._reject(request, rejected.status_code, rejected.reason)
        except _NotStored as failure:
            # The driver's message, not SQLAlchemy's (which repeats the parameters, i.e. the body).
            exc = failure.__cause__
            cause = getattr(exc, "orig", None) or exc
            log.error("webhook %s could not be stored (answering 503 so Codat retries): %s: %.300s",
                      failure.delivery_id, type(cause).__name__, cause)
            return self._reject(request, 503, "the delivery could not be stored", retry_after=True,
                                delivery_id=failure.delivery_id)

        try:
            self._on_stored(result)
        except Exception:
            log.exception("on_stored failed for delivery %s", verified.delivery_id)
        published_verdict = result.verdict if result.is_new else "duplicate"
        self._publish(DeliveryRecorded(verified.delivery_id, published_verdict, event_type,
                                       detail if result.is_new else f"already received ({result.verdict})"))
        return PlainTextResponse("ok" if result.is_new else "ok (duplicate)")

    def _verify_and_store(self, headers: dict[str, str], raw: bytes) -> tuple[Any, str, str, StoreResult]:
        """On a worker thread: verify, then store (one thread hop per delivery, not two)."""
        verified = self._verifier.verify(headers, raw)
        event_type, problem = peek_event_type(raw)
        verdict, detail = ("unusable", problem) if problem else ("pending", "")
        try:
            result = self._inbox.store(verified.delivery_id, raw, headers, event_type, verdict, detail)
        except Exception as exc:
            raise _NotStored(verified.delivery_id) from exc
        return verified, event_type, detail, result

    # --- rejections ------------------------------------------------------------

    def _reject(self, request: Request, status: int, reason: str, *, retry_after: bool = False,
                delivery_id: str | None = None) -> Response:
        if delivery_id is None:
            claimed = request.headers.get("webhook-id") or request.headers.get("svix-id") or ""
            delivery_id = claimed[:200]
        request.scope[_SCOPE_RECORDED] = True
        self._record_rejection(status, reason)
        log.info("webhook rejected: %d %s%s", status, reason, f" (id {delivery_id!r})" if delivery_id else "")
        self._publish(DeliveryRecorded(delivery_id, "rejected", "", f"{status} {reason}"))
        headers = {"retry-after": "5"} if retry_after else None
        return PlainTextResponse(reason, status_code=status, headers=headers)

    def _record_rejection(self, status: int, reason: str) -> None:
        with self._lock:
            self._rejections.append((time.time(), status, reason))

    def _count(self, status: int) -> None:
        with self._lock:
            self._stats[status] += 1

    def _note_clock_skew(self) -> None:
        now = time.monotonic()
        self._skew_times.append(now)
        while self._skew_times and now - self._skew_times[0] > CLOCK_SKEW_WINDOW_SECONDS:
            self._skew_times.popleft()
        recently_noticed = (self._skew_noticed_at is not None
                            and now - self._skew_noticed_at < CLOCK_SKEW_WINDOW_SECONDS)
        if len(self._skew_times) >= CLOCK_SKEW_REPEATS and not recently_noticed:
            self._skew_noticed_at = now
            log.warning("webhook deliveries rejected for clock skew %d times in 10 minutes", len(self._skew_times))
            self._publish(Notice("warning", CLOCK_SKEW_MESSAGE, topic="clock"))

    def _note_missing_secret(self) -> None:
        now = time.monotonic()
        if self._no_secret_noticed_at is None or now - self._no_secret_noticed_at > CLOCK_SKEW_WINDOW_SECONDS:
            self._no_secret_noticed_at = now
            self._publish(Notice("warning", NO_SECRET_MESSAGE, topic="webhook_secret"))

    def _publish(self, event: Any) -> None:
        if self._bus is not None:
            self._bus.publish(event)


class _NotStored(Exception):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(delivery_id)
        self.delivery_id = delivery_id


class _CatchAll:
    """Outermost ASGI layer: counts statuses, closes connections after errors, never 500s."""

    def __init__(self, app: Any, listener: WebhookListener) -> None:
        self._app = app
        self._listener = listener

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        started: list[int] = []

        async def send_counted(message: dict) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                started.append(status)
                if status >= 300:
                    # The body may be unread (404, 413, 408): the connection cannot be reused.
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
                self._listener._count(status)
                if status >= 400 and not scope.get(_SCOPE_RECORDED):
                    self._listener._record_rejection(status, f"{scope.get('method', '?')} {scope.get('path', '')[:100]!r}")
            await send(message)

        deadlines = self._listener._deadlines
        deadlines.request_started(scope.get("client"))
        try:
            await self._app(scope, receive, send_counted)
        except Exception:
            log.exception("webhook listener: unexpected error outside the handler")
            if not started:
                try:
                    await PlainTextResponse("service unavailable", status_code=503)(scope, receive, send_counted)
                except Exception:  # noqa: BLE001 - the client is gone or the answer started: nothing left to tell it
                    pass
        finally:
            deadlines.request_finished(scope.get("client"))


def _bind(host: str, port: int) -> socket.socket:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ListenerError(f"listener host must be a loopback IP address such as 127.0.0.1, not {host!r}") from None
    if not address.is_loopback:
        raise ListenerError(f"refusing to listen on {host}: the webhook listener binds a loopback address only "
                            "(the tunnel connects locally)")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP; with proto 0 every response (headers and body are two writes) waits ~40 ms for
    # the client's delayed ACK. NODELAY on the listening socket is inherited on Linux too.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "nt":
            # Windows' SO_REUSEADDR would let another program bind the same port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)) or getattr(exc, "winerror", 0) == 10048:
            raise ListenerError(f"port {port} on {host} is already in use (is codatdesk already running, or "
                                "another program?): choose another listener port in Settings") from None
        raise ListenerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock
