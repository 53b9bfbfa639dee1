"""B3 — push throughput: 1,000 expenses against Codat's 10-concurrent limit.

The sandbox runs in its own process with 50 ms added to every request and Codat's limit
of 10 concurrent requests per company (one more gets 429). The real Core (push engine,
listener receiving the sandbox's webhooks, applier) pushes N expenses; the figure is the
time from ``core.push`` to every POST answered and its key stored. Compared with the
ideal (N x 50 ms / 10) and, in the same run, a plain sequential loop of
``CodatClient.push_direct_cost`` over the same N bodies.
"""

from __future__ import annotations

import time

from benchmarks.common import Row, scratch_dir, wait_for
from benchmarks.headless import RateLimitWatch, core_for, count_status, delete_consumer, register_consumer
from benchmarks.sandbox_proc import RemoteSandbox

LATENCY = 0.05
LIMIT = 10
SIZES = {"full": 1000, "smoke": 20}

SPEC = [
    Row("B3", "push N=1,000: all sent (vs ideal)", "push_s", "s", "≤ 1.25 × ideal", None,
        "ideal_s", "ideal N×50 ms/10", "fig/alt", lambda r: r <= 1.25, decimals=2),
    Row("B3", "push N=1,000: all sent (vs sequential)", "push_s", "s", "≥ 8 × faster than sequential", None,
        "sequential_s", "sequential loop", "alt/fig", lambda r: r >= 8, decimals=2),
    Row("B3", "push N=1,000: all final (webhooks applied)", "final_s", "s", "—", None, decimals=2),
    Row("B3", "429 answers waited on", "rate_limited", "count", "0", lambda v: v == 0, decimals=0),
]


def run(size: str) -> dict[str, float]:
    from sqlmodel import Session

    from benchmarks.setup import ready_to_push
    from codatdesk.codat import CodatClient
    from codatdesk.engine import reference
    from codatdesk.engine.pusher import build_direct_cost
    from codatdesk.store.models import Expense

    count = SIZES[size]
    sandbox = RemoteSandbox.start({"latency": LATENCY, "rate_limit_concurrency": LIMIT, "push_delay": 1.0,
                                   "seed": 3})
    try:
        with scratch_dir("b3") as home:
            secrets: list[str] = []
            core = core_for(home, sandbox, listen=True, secrets=secrets)
            watch = RateLimitWatch()
            core.bus.subscribe(watch)
            core.start()
            consumer_id = register_consumer(sandbox, core.listener_url, secrets)
            ids = ready_to_push(core, sandbox.company_id, count)

            started = time.monotonic()
            batch = core.push(ids)
            if not batch.wait(600):
                raise TimeoutError("the push batch did not finish")
            sent = time.monotonic()
            if batch.sent != count or batch.problems:
                raise AssertionError(f"sent {batch.sent} of {count}; problems: {batch.problems[:3]}")
            finished = wait_for(lambda: count_status(core.db, ("Push complete",)) == count, 120, "all complete")
            core.stop()
            delete_consumer(sandbox, consumer_id)

            # The alternative: the same bodies, one request after another.
            with Session(core.db) as session:
                resolver = reference.Resolver(session, sandbox.company_id)
                bodies = [build_direct_cost(session.get(Expense, i), resolver) for i in ids]
            core.db.dispose()
        with CodatClient(sandbox.api_key, sandbox.base_url) as client:
            began = time.monotonic()
            for body in bodies:
                client.push_direct_cost(sandbox.company_id, sandbox.connection_id, body)
            sequential = time.monotonic() - began
    finally:
        sandbox.stop()
    return {"push_s": sent - started, "final_s": finished - started, "ideal_s": count * LATENCY / LIMIT,
            "sequential_s": sequential, "rate_limited": watch.waits}
