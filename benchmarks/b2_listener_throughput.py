"""B2 — listener throughput: verified, durably stored deliveries per second.

The real ``WebhookListener`` (uvicorn + Starlette, signature check, inbox insert with
``synchronous=FULL``) on a fresh database, flooded by 16 concurrent senders (2 sender
processes x 8 connections) for 10 s; then the bare server (same stack, answers 200 and
does nothing) under the same load. The applier is not running: B1 covers the full path.
"""

from __future__ import annotations

import time

from benchmarks.common import Row, scratch_dir
from benchmarks.load import LOOPBACK, BareServer, Target, flood_sender, spawn

SPEC = [
    Row("B2", "listener throughput, 16 senders", "listener_per_s", "deliveries/s", "≥ 1,500/s", lambda v: v >= 1500,
        "bare_per_s", "bare server", "fig/alt", lambda r: r >= 0.40, decimals=0),
]
SIZES = {"full": (10.0, 16, 2), "smoke": (1.0, 2, 1)}  # seconds, senders, sender processes


def _flood(port: int, path: str, secret: str, duration: float, senders: int, processes: int) -> tuple[int, int, dict]:
    target = Target(LOOPBACK, port, path, secret)
    start_at = time.monotonic() + 1.5  # spawned senders are ready well before this
    started = [spawn(flood_sender, target, senders // processes, start_at, duration) for _ in range(processes)]
    ok = errors = 0
    statuses: dict[int, int] = {}
    for process, queue in started:
        got_ok, got_errors, got_statuses = queue.get(timeout=duration + 60)
        process.join(30)
        ok, errors = ok + got_ok, errors + got_errors
        for status, count in got_statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return ok, errors, statuses


def run(size: str) -> dict[str, float]:
    from benchmarks.setup import database, new_secret
    from codatdesk.events import EventBus
    from codatdesk.secrets import WebhookCredentials
    from codatdesk.webhooks import Inbox, ListenerConfig, Verifier, WebhookListener

    duration, senders, processes = SIZES[size]
    secret = new_secret()
    figures: dict[str, float] = {}
    with scratch_dir("b2") as home:
        db = database(home)
        stored = [0]

        def on_stored(result) -> None:
            stored[0] += 1

        verifier = Verifier(lambda: WebhookCredentials((secret,), None, None))
        listener = WebhookListener(ListenerConfig(port=0), verifier, Inbox(db), on_stored, EventBus())
        listener.start()
        try:
            ok, errors, statuses = _flood(listener.port, listener.config.path, secret, duration, senders, processes)
        finally:
            listener.stop()
        with db.connect() as conn:
            rows = conn.exec_driver_sql("SELECT COUNT(*) FROM webhook_delivery").scalar()
        db.dispose()
        if rows < ok:
            raise AssertionError(f"{ok} deliveries answered 2xx but only {rows} are in the inbox")
        figures.update(listener_per_s=ok / duration, listener_errors=errors)

    bare = BareServer().start()
    try:
        bare_ok, bare_errors, _ = _flood(bare.port, bare.path, secret, duration, senders, processes)
    finally:
        bare.stop()
    figures.update(bare_per_s=bare_ok / duration, bare_errors=bare_errors)
    print(f"B2: listener {ok} ok / {errors} errors {statuses}; bare {bare_ok} ok / {bare_errors} errors", flush=True)
    return figures
