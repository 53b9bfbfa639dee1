"""B6 — catching up: N operations finished at Codat while the app was closed.

A first Core pushes N expenses (sandbox in its own process: 50 ms per request, Codat's
10-concurrent limit) and stops before any answer arrives; Codat completes them and its
webhooks find nobody (no consumer is registered, as if the tunnel were down through
every retry). A second Core then starts on the same database; the figure is the time
from ``core.start()`` to every expense final, reached by reconciliation alone. The
floor is the rate limit's: N GETs x 50 ms / 10 concurrent.
"""

from __future__ import annotations

import time

from benchmarks.common import Row, scratch_dir, wait_for
from benchmarks.headless import RateLimitWatch, core_for, count_status
from benchmarks.sandbox_proc import RemoteSandbox

LATENCY = 0.05
LIMIT = 10
SIZES = {"full": 1000, "smoke": 20}
FINAL = ("Push complete", "Push failed", "Outcome unknown")

SPEC = [
    Row("B6", "catch up N=1,000 after a restart", "catch_up_s", "s", "within the rate limit", None,
        "floor_s", "rate-limit floor N×50 ms/10", "fig/alt", None, decimals=2),
    Row("B6", "429 answers waited on while catching up", "rate_limited", "count", "no 429 storm (0)",
        lambda v: v == 0, decimals=0),
]


def run(size: str) -> dict[str, float]:
    from benchmarks.setup import database, ready_to_push

    count = SIZES[size]
    sandbox = RemoteSandbox.start({"latency": LATENCY, "rate_limit_concurrency": LIMIT, "push_delay": 0.2,
                                   "seed": 6})
    try:
        with scratch_dir("b6") as home:
            db = database(home)
            before = core_for(home, sandbox, listen=False, db=db)
            before.start()
            ids = ready_to_push(before, sandbox.company_id, count)
            batch = before.push(ids)
            if not batch.wait(600) or batch.sent != count:
                raise AssertionError(f"only {batch.sent} of {count} were sent")
            before.stop()
            if not sandbox.wait_idle(120):
                raise TimeoutError("the sandbox did not finish the pushes")
            in_progress = count_status(db, ("Push in progress",))
            if in_progress != count:
                raise AssertionError(f"{in_progress} of {count} in progress when the app closed")

            after = core_for(home, sandbox, listen=True, db=db)
            watch = RateLimitWatch()
            after.bus.subscribe(watch)
            started = time.monotonic()
            after.start()
            finished = wait_for(lambda: count_status(db, FINAL) == count, 300, "every expense final", 0.01)
            after.stop()
            db.dispose()
    finally:
        sandbox.stop()
    return {"catch_up_s": finished - started, "floor_s": count * LATENCY / LIMIT, "rate_limited": watch.waits}
