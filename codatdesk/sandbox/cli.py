"""``codatdesk sandbox``: run a standalone sandbox in the foreground until Ctrl-C/SIGTERM."""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
from typing import Any, TextIO

from .config import SandboxConfig
from .core import Sandbox
from .server import SandboxServer


def changed_knobs(config: SandboxConfig) -> dict[str, Any]:
    """The knobs that differ from SandboxConfig's defaults, for the banner."""
    default = SandboxConfig().to_json()
    return {name: value for name, value in config.to_json().items() if default.get(name) != value}


def run_sandbox(port: int, host: str = "127.0.0.1", config: SandboxConfig | None = None,
                *, out: TextIO | None = None, stop_event: threading.Event | None = None) -> int:
    """Serve the sandbox on host:port, print how to use it, block until stopped; returns an exit code.

    ``stop_event`` (for tests) stops it like a signal would.
    """
    out = out or sys.stdout
    stop = stop_event or threading.Event()
    sandbox = Sandbox(config)

    def announce_consumer(consumer: dict[str, Any]) -> None:
        print(f"Webhook consumer {consumer['id']} -> {consumer['url']} "
              f"({', '.join(consumer['eventTypes']) or 'no event types'})\n"
              f"  signing secret: {consumer['secret']}", file=out, flush=True)

    def announce_push(operation: dict[str, Any]) -> None:
        errors = "; ".join(e["message"] for e in (operation.get("validation") or {}).get("errors") or [])
        print(f"push {operation['pushOperationKey']} {operation['dataType']}: {operation['status']}"
              + (f" ({errors})" if errors else ""), file=out, flush=True)

    def announce_attempt(attempt: Any, url: str) -> None:
        outcome = attempt.status_code if attempt.status_code is not None else attempt.error
        print(f"webhook {attempt.event_type} {attempt.msg_id} -> {url}: {outcome} (attempt {attempt.attempt})",
              file=out, flush=True)

    sandbox.on_consumer_created = announce_consumer
    sandbox.on_push_completed = announce_push
    sandbox.deliverer.on_attempt = announce_attempt
    server = SandboxServer(sandbox, host=host, port=port)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        print(f"codatdesk sandbox: cannot listen on {host}:{port}: {error}", file=sys.stderr, flush=True)
        sandbox.shutdown()
        return 1

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())

    header = "Basic " + base64.b64encode(sandbox.api_key.encode()).decode()
    print(
        "Codat sandbox running\n"
        f"  base URL:       {server.base_url}\n"
        f"  API key:        {sandbox.api_key}\n"
        f"  Authorization:  {header}\n"
        f"  company id:     {sandbox.company_id}\n"
        f"  connection id:  {sandbox.connection_id}\n"
        "Webhook signing secrets (whsec_...) are printed here whenever a consumer is registered\n"
        f"(POST {server.base_url}/webhooks), and can be read at GET /_sandbox/webhooks/{{id}}/secret.\n"
        f"Knobs: {_describe_knobs(sandbox.config)}\n"
        f"Change them while it runs with POST {server.base_url}/_sandbox/config, e.g. {{\"error_rate\": 0.2}}\n"
        f"(GET it for all of them; the README lists them).\n"
        "Press Ctrl-C to stop.",
        file=out, flush=True,
    )
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.stop()
        sandbox.shutdown()
        print("Codat sandbox stopped.", file=out, flush=True)
    return 0


def _describe_knobs(config: SandboxConfig) -> str:
    changed = changed_knobs(config)
    if not changed:
        return "defaults (pushes complete after 1 s, no faults)"
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in changed.items())
