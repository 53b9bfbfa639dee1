"""Headless commands: ``serve``, ``push`` and ``reconcile``.

``codatdesk push`` works by itself: it sends the pushes from its own process and,
with ``--wait`` (the default), waits until every pushed expense is final. If a
``codatdesk serve`` is running (its port is taken) the results arrive through its
listener into the shared database; otherwise this process checks Codat's push
operations itself every few seconds until they are final.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time

from sqlmodel import Session, select

from codatdesk.engine.core import Core
from codatdesk.events import Notice, PushProgress
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database
from codatdesk.store.models import Expense

log = logging.getLogger(__name__)


def _print_notices(event) -> None:  # noqa: ANN001
    if isinstance(event, Notice):
        print(f"[{event.level}] {event.message}", file=sys.stderr, flush=True)
    elif isinstance(event, PushProgress) and event.finished:
        print(f"push: {event.message}", flush=True)


def serve(port: int | None = None) -> int:
    settings = Settings()
    if port:
        settings.set("listener.port", port, save=False)
    core = Core(settings, open_database())
    core.bus.subscribe(_print_notices)
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:  # noqa: ANN001
        print(f"\nstopping ({signal.Signals(signum).name})…", file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        core.start()
    except Exception as exc:
        print(f"codatdesk serve: {exc}", file=sys.stderr)
        return 2
    print(f"listening for Codat webhooks on {core.listener_url}", flush=True)
    print("reconciliation every "
          f"{settings.get('reconcile.interval_seconds')} s; Ctrl-C stops", flush=True)
    stop.wait()
    # Stop order keeps every write whole: no new deliveries, then the pushers, then the applier.
    core.stop()
    print("stopped cleanly", file=sys.stderr)
    return 0


def _listener_running(settings: Settings) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", settings.get("listener.port"))) == 0


AGAIN_ANYWAY_WARNING = (
    "warning: --again-anyway sends expenses whose earlier push Codat reported TimedOut. Codat documents that "
    "a timed-out write may still reach the ledger, so each of them may end up in the ledger twice (a "
    "duplicate). Check the ledger first; `codatdesk reconcile` asks Codat again.")


def push_command(*, ids: list[int], all_ready: bool, retry_failed: bool, wait: bool, wait_timeout: float,
                 again_anyway: bool = False) -> int:
    settings = Settings()
    db = open_database()
    with Session(db) as session:
        chosen = list(ids)
        if all_ready:
            chosen += session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.NOT_PUSHED)).all()
        if retry_failed:
            chosen += session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.FAILED)).all()
            unknown = session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.OUTCOME_UNKNOWN)).all()
            if unknown:
                print(f"{len(unknown)} expense(s) of unknown outcome are not retried: Codat timed out on them and "
                      "they may be in the ledger already. Reconciliation settles them; to send them again "
                      "regardless, use `codatdesk push --again-anyway ID...`.", file=sys.stderr)
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        print("nothing to push (use ID..., --all-ready or --retry-failed)")
        return 0
    if again_anyway:
        print(AGAIN_ANYWAY_WARNING, file=sys.stderr, flush=True)
    core = Core(settings, db, listen=False)
    core.bus.subscribe(_print_notices)
    core.applier.start()
    try:
        batch = core.push_again_anyway(chosen) if again_anyway else core.push(chosen)
        batch.wait()
        for problem in batch.problems:
            print(f"expense {problem.expense_id}: not pushed: {problem.reason}", file=sys.stderr)
        if not wait:
            return 0 if not batch.problems else 1
        return _wait_for_final(core, settings, chosen, wait_timeout)
    finally:
        core.pusher.shutdown()
        core.applier.stop()


def _wait_for_final(core: Core, settings: Settings, ids: list[int], timeout: float) -> int:
    served = _listener_running(settings)
    print("waiting for Codat's answers " + ("(through the running `codatdesk serve`)" if served
                                          else "(no `codatdesk serve` running: checking Codat directly)"),
          flush=True)
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        with Session(core.db) as session:
            rows = session.exec(select(Expense).where(Expense.id.in_(ids))).all()
        busy = [e for e in rows if ExpenseStatus(e.status) in (ExpenseStatus.IN_PROGRESS, ExpenseStatus.WAITING)]
        if not busy:
            break
        if not served and time.monotonic() >= next_check:
            core.reconciler.run_once(threshold=0)
            core.applier.wait_idle(10)
            next_check = time.monotonic() + 3.0
        time.sleep(0.2)
    with Session(core.db) as session:
        rows = session.exec(select(Expense).where(Expense.id.in_(ids)).order_by(Expense.id)).all()
    for e in rows:
        print(f"{e.id:>5}  {e.status.value:17}  {e.supplier_name[:24]:24}  {e.status_detail[:80]}")
    busy = [e for e in rows if not ExpenseStatus(e.status).is_final and e.status != ExpenseStatus.NOT_PUSHED]
    failed = [e for e in rows if ExpenseStatus(e.status) in (ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN)]
    if any(e.status == ExpenseStatus.OUTCOME_UNKNOWN for e in rows):
        print("Outcome unknown: Codat timed out, and the expense may still reach the ledger; "
              "`codatdesk reconcile` (or a running `codatdesk serve`) keeps asking Codat.", file=sys.stderr)
    if busy:
        print(f"{len(busy)} expense(s) still waiting for Codat after {timeout:.0f} s", file=sys.stderr)
        return 3
    return 1 if failed else 0


def reconcile_command() -> int:
    core = Core(Settings(), open_database(), listen=False)
    core.bus.subscribe(_print_notices)
    core.applier.start()
    try:
        checked = core.reconciler.run_once(threshold=0)
        core.applier.wait_idle(30)
        print(f"checked {checked} operation(s) with Codat (in progress, outcome unknown, reasons missing)")
        return 0
    finally:
        core.pusher.shutdown()
        core.applier.stop()
