"""TunnelService: runs the configured tunnel with the app and keeps it running.

* ``none``: nothing runs (state ``off``); ``manual``: the URL from settings (state ``up``).
* ``cloudflared`` / ``ngrok``: a supervised child process. If it dies it is restarted
  with exponential backoff (reset after it stayed up a while); problems the user
  must fix (missing binary, rejected token, broken named tunnel) stop the retries
  and say what to do. ``stop()`` terminates the process group, then kills it.

Every state change is published as ``TunnelStateChanged(state)``;
problems and URL changes as ``Notice(topic="tunnel")``. ``on_url_change`` runs on
a dedicated thread (never the thread reading the child's output, so a slow
registration cannot stall the tunnel) whenever the public URL changes while the
service runs, including to None when a quick tunnel dies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from codatdesk.events import EventBus, Notice, TunnelStateChanged

from .base import ProcessProvider, ProviderRun
from .cloudflared import CloudflaredProvider
from .manual import manual_state
from .ngrok import NgrokProvider
from .process import Backoff, ChildProcess
from .state import DOWN, ERROR, OFF, STARTING, UP, TunnelState
from .urls import webhook_url

log = logging.getLogger(__name__)
TOPIC = "tunnel"


class TunnelService:
    def __init__(
        self,
        settings,
        local_url: str,
        bus: EventBus,
        *,
        on_url_change: Callable[[str | None], None] | None = None,
        ngrok_authtoken: Callable[[], str | None] | None = None,
        backoff: Callable[[], Backoff] = Backoff,
        stop_grace: float = 5.0,
    ) -> None:
        self.settings = settings
        self.local_url = _origin(local_url)
        self.bus = bus
        self.on_url_change = on_url_change
        self.stop_grace = stop_grace
        self._ngrok_authtoken = ngrok_authtoken
        self._backoff_factory = backoff
        self._lock = threading.RLock()
        self._state = TunnelState(OFF, "not started")
        self._stopping = threading.Event()
        self._retry_now = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: ChildProcess | None = None
        self._run: _Run | None = None
        self._provider_name = "none"
        self._warn_when_down = True
        self._last_announced_url: str | None = None
        self._callbacks = _SerialRunner("tunnel-url-change")

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> TunnelState:
        return self._state

    @property
    def public_url(self) -> str | None:
        return self._state.public_url

    @property
    def public_webhook_url(self) -> str | None:
        """The address to register with Codat: public URL + ``listener.path``."""
        return webhook_url(self.public_url, str(self.settings.get("listener.path") or "/"))

    @property
    def provider(self) -> str:
        return self._provider_name

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child else None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._retry_now.clear()
            self._warn_when_down = True
            self._provider_name = name = str(self.settings.get("tunnel.provider") or "none")
            if name == "none":
                self._set_state(TunnelState(
                    OFF, "No tunnel is configured, so Codat cannot reach this computer; push results are "
                         "picked up by polling Codat instead. Choose a tunnel in Settings > Tunnel."))
                return
            if name == "manual":
                state = manual_state(self.settings)
                self._set_state(state)
                if state.status == ERROR:
                    self._notice("error", state.message)
                return
            provider = self._make_provider(name)
            self._thread = threading.Thread(target=self._supervise, args=(provider,),
                                            name=f"tunnel-{name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the tunnel (and its whole process group). Safe to call twice."""
        self._stopping.set()
        self._retry_now.set()
        with self._lock:
            child, thread = self._child, self._thread
        if child is not None:
            child.stop(self.stop_grace)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout if timeout is not None else self.stop_grace * 2 + 5)
        with self._lock:
            self._thread = None
            self._set_state(TunnelState(OFF, "stopped"), announce=False)

    def restart(self) -> None:
        """Apply changed tunnel settings (or retry after an error the user has fixed)."""
        self.stop()
        self.start()

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait after a crash (a "Retry now" button)."""
        self._retry_now.set()

    # ------------------------------------------------------------------ supervision

    def _make_provider(self, name: str) -> ProcessProvider:
        if name == "cloudflared":
            return CloudflaredProvider(self.settings)
        if name == "ngrok":
            return NgrokProvider(self.settings, authtoken=self._ngrok_authtoken)
        raise ValueError(f"unknown tunnel provider {name!r}")

    def _supervise(self, provider: ProcessProvider) -> None:
        binary = provider.resolve_binary()
        if binary is None:
            self._fail(provider.missing_binary_message())
            return
        problem = provider.preflight()
        if problem:
            self._fail(problem)
            return
        stable_url = provider.stable_url()
        backoff = self._backoff_factory()
        while not self._stopping.is_set():
            self._retry_now.clear()  # only a request made while waiting to restart counts
            run = _Run(self, provider)
            child = ChildProcess(provider.argv(binary, self.local_url), env=provider.child_env(),
                                 on_line=run.on_line, name=provider.name)
            self._set_state(TunnelState(STARTING, f"starting {provider.name}", stable_url))
            with self._lock:
                self._run = run
                try:
                    child.start()
                except OSError as exc:
                    self._run = None
                    self._fail(f"{provider.name} at '{binary}' could not be started: {exc}. "
                               "Check its path in Settings > Tunnel.")
                    return
                self._child = child
            log.info("%s started (pid %s): %s", provider.name, child.pid, " ".join(child.argv))
            started = time.monotonic()
            while (code := child.wait(0.1)) is None:
                if run.fatal_message or self._stopping.is_set():
                    child.stop(self.stop_grace)
            run.finish()
            with self._lock:
                self._child = None
                self._run = None
            if self._stopping.is_set():
                return
            if run.fatal_message:
                self._fail(run.fatal_message)
                return
            delay = backoff.next_delay(time.monotonic() - started)
            detail = f": {run.last_problem}" if run.last_problem else ""
            how = f"was killed (signal {-code})" if code < 0 else f"stopped (exit code {code})"
            message = f"{provider.name} {how}{detail}. Restarting in {delay:g} s."
            log.warning(message)
            self._set_state(TunnelState(DOWN, message, stable_url))
            if self._warn_when_down:
                self._warn_when_down = False
                self._notice("warning", f"The tunnel stopped: {message}")
            self._retry_now.wait(delay)
            if self._stopping.is_set():
                return

    def _run_progress(self, run: _Run) -> None:
        with self._lock:
            if run is not self._run or self._stopping.is_set():
                return
            url = run.url or run.provider.stable_url()
            if url and run.is_ready:
                self._warn_when_down = True
                self._set_state(TunnelState(UP, f"{run.provider.name} tunnel is up", url))
            elif url:
                self._set_state(TunnelState(STARTING, f"{run.provider.name} is connecting", url))

    def _fail(self, message: str) -> None:
        log.error("tunnel: %s", message)
        self._set_state(TunnelState(ERROR, message, None))
        self._notice("error", message)

    # ------------------------------------------------------------------ events

    def _set_state(self, state: TunnelState, *, announce: bool = True) -> None:
        with self._lock:
            old = self._state
            if state == old:
                return
            self._state = state
            url_changed = state.public_url != old.public_url
            if url_changed and state.public_url:
                previous = self._last_announced_url
                self._last_announced_url = state.public_url
            else:
                previous = None
        self.bus.publish(TunnelStateChanged(state, self._provider_name, self.public_webhook_url))
        if not (url_changed and announce):
            return
        if previous and previous != state.public_url:
            self._notice("info", f"The tunnel's public address changed from {previous} to {state.public_url}. "
                                 "A stable hostname avoids this: see Settings > Tunnel.")
        if self.on_url_change is not None:
            self._callbacks.submit(self.on_url_change, state.public_url)

    def _notice(self, level: str, message: str) -> None:
        self.bus.publish(Notice(level, message, topic=TOPIC))


def _origin(url: str) -> str:
    """``http://127.0.0.1:8765/webhooks/codat`` -> ``http://127.0.0.1:8765``: tunnels forward to an origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url.rstrip("/")


class _Run:
    """One process run: the sink its provider reports to (called on reader threads)."""

    def __init__(self, service: TunnelService, provider: ProcessProvider) -> None:
        self.service = service
        self.provider = provider
        self.url: str | None = None
        self.is_ready = False
        self.fatal_message: str | None = None
        self.last_problem: str | None = None
        self._finished = False
        self._parser: ProviderRun = provider.new_run(self)

    def on_line(self, stream: str, line: str) -> None:
        log.debug("%s %s: %s", self.provider.name, stream, self.provider.redact(line))
        self._parser.on_line(stream, line)

    def finish(self) -> None:
        self._finished = True
        self._parser.close()

    # RunSink
    def url_found(self, url: str) -> None:
        if self.url != url:
            self.url = url
            self.service._run_progress(self)

    def ready(self) -> None:
        if not self.is_ready:
            self.is_ready = True
            self.service._run_progress(self)

    def fatal(self, message: str) -> None:
        # Providers phrase these themselves; they never quote the child's output verbatim.
        self.fatal_message = self.fatal_message or message

    def problem(self, message: str) -> None:
        self.last_problem = self.provider.redact(message)
        log.warning("%s: %s", self.provider.name, self.last_problem)

    def alive(self) -> bool:
        return not self._finished


class _SerialRunner:
    """Runs callbacks one at a time, in order, on one daemon thread."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable, *args) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put((fn, args))

    def _loop(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:
                log.exception("tunnel callback %r failed", fn)
