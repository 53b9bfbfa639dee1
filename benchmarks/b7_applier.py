"""B7, the server's share: the applier's batch beside a busy thread, at CPython's switch interval and at codatdesk's.

A team server's applier makes about ten round trips to PostgreSQL per batch of deliveries. At each it lets go of
the GIL; when the answer comes while another thread of the process computes (the listener parsing the next
deliveries, the inbox storing them), CPython makes it wait until that thread has run for the switch interval
(5 ms by default) before it goes on. ``codatdesk/engine/gil.py`` sets 1 ms in every started core.

Measured here, in this process, on a database of its own: batches of 14 stored ``directCosts.write.successful``
deliveries applied one after another (``Applier.apply_deliveries``, as the applier thread does under a storm),
once with nothing else running and twice beside one thread spinning in pure Python, at 5 ms and at 1 ms.
Figures are medians of the batches' wall times.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

SIZE = 14
BATCHES = {"full": 30, "mid": 30, "smoke": 5}  # per case
COMPANY, CONNECTION = "b7-applier-co", "b7-applier-conn"


@contextmanager
def _busy_thread() -> Iterator[None]:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(i * i for i in range(2000))

    thread = threading.Thread(target=spin, name="busy", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def measure(database: str, size: str) -> dict[str, float]:
    from benchmarks.load import write_event_body
    from benchmarks.setup import seed_expenses
    from codatdesk.engine.applier import Applier
    from codatdesk.events import EventBus
    from codatdesk.states import ExpenseStatus
    from codatdesk.store.db import open_database
    from codatdesk.webhooks.inbox import Inbox

    cases = (("applier_idle_ms", 0.001, False), ("applier_busy_default_ms", 0.005, True),
             ("applier_busy_ms", 0.001, True))
    batches = BATCHES[size]
    db = open_database(database)
    before = sys.getswitchinterval()
    try:
        pairs = seed_expenses(db, COMPANY, batches * SIZE * len(cases), status=ExpenseStatus.IN_PROGRESS,
                              connection_id=CONNECTION)
        inbox = Inbox(db)
        rows = [inbox.store(f"b7a-{key}", write_event_body(str(key), COMPANY, CONNECTION), {},
                            "directCosts.write.successful").row_id for _, key in pairs]
        applier = Applier(db, EventBus())
        figures: dict[str, float] = {}
        for n, (name, interval, busy) in enumerate(cases):
            sys.setswitchinterval(interval)
            walls = []
            with _busy_thread() if busy else nullcontext():
                for b in range(batches):
                    first = (n * batches + b) * SIZE
                    started = time.perf_counter()
                    applier.apply_deliveries(rows[first:first + SIZE])
                    walls.append((time.perf_counter() - started) * 1000)
            figures[name] = statistics.median(walls[2:])  # the first batches warm the caches
        return figures
    finally:
        sys.setswitchinterval(before)
        db.dispose()
