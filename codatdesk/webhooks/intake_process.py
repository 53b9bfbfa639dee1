"""The webhook intake (listener, verification, durable inbox) in a process of its own, for a team's server.

A team server on PostgreSQL runs the listener here and the applier in the parent. In one process the two
shared one interpreter lock: under a storm of 200 deliveries/s, the sixteen intake threads and the event loop
kept the applier waiting for the lock after each of its round trips to the database, and a delivery waited
about a hundred milliseconds from its answer to its row's change (B7). Here each has its own interpreter.

Nothing changes for Codat or for the inbox: the child answers 2xx only after the delivery is committed, as
the in-process listener does. The parent is told of every stored delivery and hands it to its applier; a
delivery stored while the parent was down is still in the inbox and is applied at the next start.

The two talk over the child's stdin and stdout, one JSON object a line (never the command line or the
environment: the database URL holds a password and the credentials are secrets):

- parent → child, first line: the start-up settings, the database URL and the webhook credentials; later
  lines: fresh credentials, the answer to the child's ``recheck``. End of input: the child stops.
- child → parent: ``url`` once listening (or ``error``), then ``stored`` (a ``StoreResult``), ``event``
  (what the listener publishes), ``log`` (its log records, written to the parent's log) and ``recheck``.

When the child dies, the parent starts another on the same port (the tunnel points at it).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from codatdesk.events import DeliveryRecorded, EventBus, ListenerStateChanged, Notice
from codatdesk.secrets import WebhookCredentials
from codatdesk.webhooks.inbox import StoreResult
from codatdesk.webhooks.listener import ListenerConfig
from codatdesk.webhooks.verify import ListenerError

log = logging.getLogger(__name__)

CHILD_ARGUMENT = "_intake"  # ``codatdesk _intake``: hidden, started only by IntakeProcess
START_TIMEOUT_SECONDS = 30.0
RECHECK_TIMEOUT_SECONDS = 10.0
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before each new child after one died
# What the child's listener publishes that the parent passes on (its start and stop are the parent's to say).
_EVENTS = {cls.__name__: cls for cls in (DeliveryRecorded, Notice)}


def child_command() -> list[str]:
    """How to start this program as the intake child (a bundle is its own interpreter)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_ARGUMENT]
    return [sys.executable, "-m", "codatdesk", CHILD_ARGUMENT]


def _credentials_json(creds: WebhookCredentials) -> dict[str, Any]:
    return {"signing_secrets": list(creds.signing_secrets), "basic": creds.basic, "bearer": creds.bearer}


def _credentials_from(data: dict[str, Any]) -> WebhookCredentials:
    return WebhookCredentials(tuple(data["signing_secrets"]), data["basic"], data["bearer"])


class IntakeProcess:
    """The parent's side: the same ``start``/``stop``/``url``/``port``/``running`` as ``WebhookListener``.

    ``credentials`` and ``recheck`` are the parent's (its keyring cache): the child asks for them at start and
    after a delivery its credentials refused. ``on_stored`` runs on this object's reader thread.
    """

    def __init__(self, config: ListenerConfig, database_url: str, *, require_signature: bool, authorization: str,
                 credentials: Callable[[], WebhookCredentials], recheck: Callable[[], bool] | None,
                 on_stored: Callable[[StoreResult], None], bus: EventBus | None = None,
                 command: list[str] | None = None) -> None:
        self.config = config
        self._database_url = database_url
        self._verifier = {"require_signature": require_signature, "authorization": authorization}
        self._credentials = credentials
        self._recheck = recheck
        self._on_stored = on_stored
        self._bus = bus
        self._command = command or child_command()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._lifecycle = threading.Lock()  # a restart's spawn and stop() never interleave
        self._stopping = threading.Event()
        self._sent: dict[str, Any] = {}  # the credentials the child holds
        self._url: str | None = None
        self._port: int | None = None
        self.restarts = 0

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self._reader is not None:
            raise ListenerError("the webhook intake is already running")
        self._stopping.clear()
        self._spawn(self.config.port)
        self._reader = threading.Thread(target=self._read_forever, name="intake-link", daemon=True)
        self._reader.start()
        log.info("webhook intake process %d listening on %s", self.pid, self.url)
        self._publish(ListenerStateChanged(self.url))

    def stop(self, timeout: float = 10.0) -> None:
        if self._reader is None:
            return
        self._stopping.set()
        with self._lifecycle:  # a restart in progress finishes first, then sees _stopping
            process = self._process
        if process is not None:
            _close_quietly(process.stdin)  # end of input: the child stops its listener and exits
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("webhook intake process %d did not stop in %.0f s: killed", process.pid, timeout)
                process.kill()
                process.wait(5)
        self._reader.join(timeout)
        self._reader = self._process = None
        log.info("webhook intake stopped")
        self._publish(ListenerStateChanged(None))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.config.port

    @property
    def url(self) -> str:
        if self._url is None:
            raise ListenerError("the webhook intake has not started")
        return self._url

    # --- the child -------------------------------------------------------------
    def _spawn(self, port: int) -> None:
        config = dataclasses.replace(self.config, port=port)
        self._sent = _credentials_json(self._credentials())  # before the child: a locked keyring leaves none behind
        process = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   encoding="utf-8", bufsize=1)
        self._process = process
        self._send({"listener": dataclasses.asdict(config), "verifier": self._verifier,
                    "database_url": self._database_url, "credentials": self._sent})
        first = _first_answer(process, self._handle, START_TIMEOUT_SECONDS)
        if first is None or "url" not in first:
            if first is None:
                code = process.poll()
                why = f"it ended (exit code {code})" if code is not None else \
                    f"it did not answer within {START_TIMEOUT_SECONDS:.0f} s"
            else:
                why = str(first.get("error") or first)
            process.kill()
            process.wait(5)
            self._process = None
            raise ListenerError(f"the webhook intake process did not start: {why}")
        self._url, self._port = first["url"], int(first["port"])

    def _read_forever(self) -> None:
        while True:
            process = self._process
            if process is None:
                return
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    self._handle(json.loads(line))
                except Exception:  # one bad message must not end the link: the inbox keeps the delivery anyway
                    log.exception("webhook intake: could not handle %.200r", line)
            code = process.wait()
            if self._stopping.is_set():
                return
            self._restart_after(code)

    def _restart_after(self, code: int) -> None:
        why = f"the webhook intake process ended (exit code {code})"
        log.error("%s; starting another on port %d", why, self.port)
        self._publish(ListenerStateChanged(None, error=f"{why}; restarting it"))
        for attempt in itertools.count():  # until one starts, or stop()
            delay = RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)]
            if self._stopping.wait(delay):
                return
            with self._lifecycle:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn(self.port)
                except Exception as exc:  # noqa: BLE001 - a locked keyring, a port still taken: try again later
                    log.error("webhook intake not restarted: %s", exc)
                    continue
            self.restarts += 1
            self._publish(ListenerStateChanged(self.url))
            return

    def _handle(self, message: dict[str, Any]) -> None:
        if "stored" in message:
            self._on_stored(StoreResult(*message["stored"]))
        elif "event" in message:
            kind = _EVENTS.get(message["event"])
            if kind is not None:
                self._publish(kind(**message["fields"]))
        elif "log" in message:
            level, name, text = message["log"]
            logging.getLogger(name).log(int(level), "[intake] %s", text)
        elif "recheck" in message:  # off this thread: a keyring may take its time, and the child's lines flow on
            threading.Thread(target=lambda: self._send(self._credentials_again()), name="intake-recheck",
                             daemon=True).start()

    def _credentials_again(self) -> dict[str, Any]:
        """The child's credentials refused a delivery: read them again and send them if they differ from what the
        child holds (the keyring cache's ``recheck`` says how often it reads the keyring itself; a plain callable
        is simply called again, as the in-process listener calls it for every delivery)."""
        try:
            if self._recheck is not None:
                self._recheck()  # only for its reading: the cache may have changed since the child was told
            fresh = _credentials_json(self._credentials())
        except Exception as exc:  # noqa: BLE001 - a locked keyring: the child keeps what it has
            log.warning("webhook credentials not read again: %s", type(exc).__name__)
            return {"changed": False}
        if fresh == self._sent:
            return {"changed": False}
        self._sent = fresh
        return {"changed": True, "credentials": fresh}

    def _send(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        with self._write_lock:
            try:
                process.stdin.write(json.dumps(message) + "\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):  # the child is gone: the reader restarts it
                pass

    def _publish(self, event: Any) -> None:
        if self._bus is not None:
            self._bus.publish(event)


def _first_answer(process: subprocess.Popen[str], handle: Callable[[dict[str, Any]], None],
                  timeout: float) -> dict[str, Any] | None:
    """The child's ``url`` or ``error`` line (its log lines before it are handled), or None if it ended or said
    nothing in time."""
    result: list[dict[str, Any] | None] = [None]

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                message = None
            if not isinstance(message, dict):
                result[0] = {"error": f"unexpected output {line[:200]!r}"}
                return
            if "url" in message or "error" in message:
                result[0] = message
                return
            handle(message)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0]


def _close_quietly(stream: IO[str] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


# --- the child's side ----------------------------------------------------------------------------------------
class _Link:
    """The child's end of the pipes: one line out at a time, and the answers to its questions."""

    def __init__(self, credentials: WebhookCredentials, out: IO[str]) -> None:
        self._out = out
        self._out_lock = threading.Lock()
        self._asked = threading.Lock()  # one recheck question at a time
        self._answers: list[dict[str, Any]] = []
        self._answered = threading.Condition()
        self.credentials = credentials

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with self._out_lock:
            self._out.write(line)
            self._out.flush()

    def recheck(self) -> bool:
        """Ask the parent to read the credentials again (its cache decides how often)."""
        with self._asked:
            with self._answered:
                self._answers.clear()
            self.send({"recheck": True})
            with self._answered:
                if not self._answered.wait_for(lambda: bool(self._answers), RECHECK_TIMEOUT_SECONDS):
                    return False
                answer = self._answers.pop()
        return bool(answer.get("changed"))

    def answered(self, message: dict[str, Any]) -> None:
        """The parent's answer; new credentials count at once, even if the question timed out meanwhile."""
        from codatdesk.logging_setup import register_secret

        if message.get("changed") and "credentials" in message:
            self.credentials = _credentials_from(message["credentials"])
            for secret in (*self.credentials.signing_secrets, self.credentials.basic, self.credentials.bearer):
                register_secret(secret)
        with self._answered:
            self._answers.append(message)
            self._answered.notify_all()


class _ForwardingBus(EventBus):
    def __init__(self, link: _Link) -> None:
        super().__init__()
        self._link = link

    def publish(self, event: Any) -> None:
        name = type(event).__name__
        if name in _EVENTS:
            self._link.send({"event": name, "fields": dataclasses.asdict(event)})


class _ForwardingLog(logging.Handler):
    def __init__(self, link: _Link) -> None:
        from codatdesk.logging_setup import redact

        super().__init__(logging.INFO)
        self._link = link
        self._redact = redact

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._link.send({"log": [record.levelno, record.name, self._redact(text)]})
        except Exception:  # noqa: BLE001 - logging must never raise into the listener
            self.handleError(record)


def _protocol_output() -> IO[str]:
    """The pipe to the parent, for protocol lines only: anything else written to stdout (a stray print, a
    library's) goes to stderr instead of into the protocol."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return out


def child_main() -> int:
    """``codatdesk _intake``: read the start-up line, listen, report, and stop at the end of input."""
    from sqlalchemy.engine import make_url

    from codatdesk.engine.gil import answer_waiting_threads_sooner
    from codatdesk.logging_setup import register_secret
    from codatdesk.store.db import make_engine
    from codatdesk.webhooks.inbox import Inbox
    from codatdesk.webhooks.listener import WebhookListener
    from codatdesk.webhooks.verify import Verifier

    line = sys.stdin.readline()
    if not line:  # the parent stopped before it said anything
        return 0
    # Ctrl+C, and a service manager's SIGTERM to every process of the service, reach the parent too, which then
    # closes our input: we stop then, in order, not before.
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    start = json.loads(line)
    credentials = _credentials_from(start["credentials"])
    link = _Link(credentials, _protocol_output())
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_ForwardingLog(link))
    for secret in (*credentials.signing_secrets, credentials.basic, credentials.bearer,
                   make_url(start["database_url"]).password):
        register_secret(secret and str(secret))
    answer_waiting_threads_sooner()  # as in the parent: its threads mostly wait on sockets and must answer quickly

    def stored(result: StoreResult) -> None:  # on the listener's event loop: one short write
        link.send({"stored": [result.row_id, result.is_new, result.verdict, result.delivery_id, result.event_type]})

    try:
        db = make_engine(start["database_url"])  # the parent has migrated it
        verifier = Verifier(lambda: link.credentials, recheck=link.recheck, **start["verifier"])
        listener = WebhookListener(ListenerConfig(**start["listener"]), verifier, Inbox(db), stored,
                                   _ForwardingBus(link))
        listener.start()
    except Exception as exc:  # noqa: BLE001 - whatever it is, the parent says it and does not wait
        link.send({"error": str(exc) or type(exc).__name__})
        return 1
    link.send({"url": listener.url, "port": listener.port})
    for line in sys.stdin:  # the parent's answers; its end is our stop
        message = json.loads(line)
        if "changed" in message:
            link.answered(message)
    listener.stop()
    db.dispose()
    return 0

