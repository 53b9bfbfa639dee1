"""The prose of docs/benchmarks.md (the figures come from the run)."""

INTRO = """We claim speed only where a benchmark shows it. Each benchmark below runs its
alternative in the same run and prints a ratio. They are not timed tests: CI runs
only `tests/test_benchmarks_smoke.py`, which runs each at a tiny size and checks that it
produces figures, not that they meet targets.

Run them all (about 12 minutes), or some, with:

    .venv/bin/python -m benchmarks                 # all, 3 runs each, writes this file
    .venv/bin/python -m benchmarks --only B1,B3    # some
    .venv/bin/python -m benchmarks --smoke         # tiny sizes, 1 run, prints only
    BENCH_BUNDLE=path/to/codatdesk .venv/bin/python -m benchmarks --only B5   # another bundle"""

METHOD = """- **Load stays on 127.0.0.1**, and every loop is bounded in count and time.
- **Senders (B1, B2) are separate processes** (`multiprocessing`, spawn), so the client
  never holds the server's GIL. They speak HTTP/1.1 over plain keep-alive sockets and
  sign each body themselves (Standard Webhooks HMAC). Not httpx: one httpx request costs
  ~0.3 ms of client CPU, taken from the server on a 2-core machine. Not wrk: its Lua
  cannot compute HMACs, so signed bodies would have to be pre-generated into a script.
  A raw-socket sender costs tens of microseconds per request and spawns fast.
- **The bare server** is Starlette on uvicorn with the listener's options (h11, no
  lifespan, no access log) that reads the body and answers 200.
- **Codat's sandbox runs in its own process** (B1, B3, B5, B6): Codat is remote, so its
  CPU must not share the GIL of the core under test. On 2 cores it still shares the
  machine: during B3 the sandbox (200 requests/s plus 200 webhooks/s) keeps most of
  one core busy.
- **B1** latency is from the sender starting to send a delivery to the table model's
  `dataChanged` for that row (CLOCK_MONOTONIC is shared across processes), in the real
  `MainWindow` (offscreen, shown). The GUI stall is the longest gap of a 5 ms
  heartbeat timer on the GUI thread while deliveries flow.
- **B2** counts 2xx answers inside the 10 s window and checks the inbox holds at least
  that many rows. The applier does not run (B1 covers the whole path).
- **B3** times `core.push(ids)` to the batch being done (every POST answered and its key
  stored) while the sandbox completes pushes after 1 s and its webhooks flow back into
  the same core. The sequential loop pushes the same bodies with `CodatClient`.
- **B4** runs the product and the `QTableWidget` in separate processes (peak RSS is each
  process's own) on the same seeded database.
- **B5** uses the app's start-up probe (`CODATDESK_STARTUP_PROBE`); the data folder has
  1,000 expenses and credentials come from the environment. Process start is the
  parent's clock just before `Popen`.
- **B6**: the first core pushes and stops before any answer; the sandbox completes
  every push; no webhook reaches the app (as if the tunnel were down through all of
  Codat's retries); the second core's start-up reconciliation resolves them."""

NOTES = {
    ("B1", "p50_ms"): (
        "the applier cannot apply 200 deliveries a second while it shares one GIL with the listener and the "
        "GUI: each application costs ~3 ms of CPU in SQLAlchemy's ORM (load the delivery, the push operation and "
        "the expense, write four rows, commit), so a backlog builds and latency grows through the run "
        "(`applied_p50_ms` below: nearly all of the delay is before the applier publishes; the listener answers "
        "in ~10 ms, `http_p50_ms`). It would take applying deliveries in batches (one transaction and one "
        "bulk load for everything queued) or Core statements instead of ORM round trips on this path; and "
        "then the GUI's 50 ms coalescing window, which alone puts p50 near 25 ms, would have to flush on the next "
        "event-loop pass when idle (leading edge) to reach 5 ms."),
    ("B1", "p99_ms"): "as for p50: the backlog in the applier.",
    ("B1", "stall_ms"): (
        "the GUI thread does more per event than refresh one row: the webhook activity view reloads its "
        "deliveries from the database on DeliveryRecorded events, the status bar and actions update per "
        "batch; together with the GIL held by the applier under backlog, the heartbeat sees gaps over 50 ms. "
        "It would take coalescing the activity view's reloads like the row refreshes, and the applier batching "
        "above."),
    ("B2", "listener_per_s"): (
        "per delivery the listener spends ~0.7 ms of GIL time against the bare server's ~0.2 ms: uvicorn and "
        "Starlette are the same, the rest is one worker-thread hop (submit, wake, future back to the loop), "
        "signature check, JSON peek, and the inbox insert through SQLAlchemy. Group commit removed the fsync and "
        "write-lock cost per delivery; what is left is CPU under one GIL on 2 cores shared with the senders. "
        "It would take a single intake thread that verifies and stores whole batches (one hop per batch, "
        "not per delivery), or a second process for intake."),
    ("B3", "push_s"): (
        "CPU, not the rate limit: each expense costs the core ~9 ms of CPU (two durable push transactions "
        "through the ORM, the HTTP request, and, because Codat answers within the run, the webhook through "
        "listener, inbox and applier), one GIL, and the sandbox process keeps most of the second core busy. "
        "It would take fewer ORM round trips per push (the resolver is rebuilt per expense and the two "
        "transactions re-read the expense), and the applier batching of B1."),
    ("B4", "open_s"): (
        "reading 100,000 rows is ~1.1 s of SQLAlchemy type processing (dates, datetimes, scaled-integer money, "
        "status enum) plus ~0.4 s building row snapshots; the mapping tab, not visible, also reloads (~0.4 s) "
        "when the window opens. It would take loading the mapping tab when it is first shown, and loading rows "
        "in the background so the window opens with the first screenful (or a leaner decode path for the table)."),
    ("B5", "shown_source_s"): (
        "the window is shown only after everything is ready: Python imports (SQLAlchemy, SQLModel, httpx, "
        "uvicorn, the Qt modules: see the import table), the Alembic migration check and the core's start "
        "(listener, applier) run first. A bare PySide6 window needs ~0.1 s. It would take showing the window "
        "first, with the table filling once the store is open, and importing the listener stack lazily."),
    ("B5", "shown_bundle_s"): (
        "the bundle in dist/ was built before the start-up probe existed; rebuild it with build.spec "
        "(or point BENCH_BUNDLE at a fresh build) to measure."),
    ("B5", "filled_bundle_s"): "see above.",
}

FIXES = """See the commits for details. Each names the benchmark that found it.

1. **Listener and sandbox: TCP_NODELAY** (B2). The listening sockets were created with
   `proto=0`, so asyncio never set TCP_NODELAY on accepted connections; uvicorn writes a
   response's head and body separately and the body waited for the client's delayed
   ACK: every response took ~40 ms. 262 → 515 deliveries/s.
2. **Inbox: group commit, one worker hop** (B2). Each delivery was its own
   `BEGIN IMMEDIATE` + fsync and four workers queued in SQLite's sleeping busy
   handler. Concurrent `store()` calls now share one transaction (leader/follower, no
   added delay when alone); verify and store run in one executor job. 515 → ~1,300/s.
3. **Store: writers queue on a Python lock** (B3). Threads that found SQLite's write
   lock taken slept 1–100 ms in its busy handler after it was free. 13.5 → ~10–11 s.
4. **Applier: relaxed commits, no query per stored key, no re-read** (B3, B1). Its
   writes are re-derivable after a power cut, so they skip fsync; `key_stored` no longer
   queries parked deliveries for keys that never had one; events are taken from the
   session before commit.
5. **Faster row decoding** (B4): whole-cent money and status lookup (~0.2 s of 2.6 s).
6. **Start-up probe** (B5): `CODATDESK_STARTUP_PROBE`, so source and bundle are measured
   the same way."""
