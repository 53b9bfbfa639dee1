"""The app, headless, for the crash suite: one process runs a Core (listener, applier, push
engine, reconciliation) and presses Push on every row that may be pushed, as a user would
after starting the app. The suite SIGKILLs it at random points and starts it again.

Usage: python crash_driver.py DATA_DIR [--until-done]
Credentials come from CODATDESK_API_KEY / CODATDESK_WEBHOOK_SECRETS, settings from
DATA_DIR/settings.json. Push covers rows that are *Not pushed* (rows Codat failed are
not retried). ``--until-done`` presses Push again every second (the user retrying
"not sent" rows). SIGTERM stops the core cleanly.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading


def main(argv: list[str]) -> int:
    from codatdesk import paths

    paths.set_data_dir(argv[0])
    from codatdesk.logging_setup import setup_logging

    setup_logging(console=False)
    from sqlmodel import Session, select

    from codatdesk.engine.core import Core
    from codatdesk.settings import Settings
    from codatdesk.states import ExpenseStatus
    from codatdesk.store.db import open_database
    from codatdesk.store.models import Expense

    core = Core(Settings(), open_database())
    # The sandbox's push history has no lag: no need to wait 30 s before calling a lost push "not sent".
    core.pusher.unknown_grace = dt.timedelta(seconds=1)
    # Only one instance uses this data dir, and a killed one is gone for good: its unanswered
    # attempts are orphans as soon as Codat's history can be checked.
    core.pusher.orphan_after = dt.timedelta(seconds=1)
    core.start()
    print(f"listening {core.listener_url}", flush=True)

    def press_push() -> int:
        with Session(core.db) as session:
            ids = list(session.exec(select(Expense.id).where(Expense.status == ExpenseStatus.NOT_PUSHED)))
        blocked = {p.expense_id for p in core.check_pushable(ids)}
        ready = [i for i in ids if i not in blocked]
        if ready:
            batch = core.push(ready)
            batch.wait()
            print(f"pushed {batch.sent} of {len(ready)}", flush=True)
        return len(ready)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    press_push()
    while "--until-done" in argv and not stop.wait(1.0):
        press_push()
    stop.wait()
    core.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
