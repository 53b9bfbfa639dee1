"""A team server, headless, for the team crash and failover tests: ``codatdesk serve`` on a shared
PostgreSQL (a Core with listener, applier, reconciliation and push engine, plus the leader lock and
the push-request loop), in a subprocess the tests SIGKILL.

Usage: python team_server_driver.py DATA_DIR DATABASE_URL
Credentials come from CODATDESK_API_KEY / CODATDESK_WEBHOOK_SECRETS, settings from DATA_DIR/settings.json.
Prints "listening URL", then "active" when it holds the leader lock. SIGTERM stops it cleanly.
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
    from codatdesk.engine.core import Core
    from codatdesk.settings import Settings
    from codatdesk.store.db import open_database
    from codatdesk.team.server import start_team_server

    core = Core(Settings(), open_database(argv[1]))
    core.pusher.unknown_grace = dt.timedelta(seconds=1)  # the sandbox's push history has no lag
    core.start()
    print(f"listening {core.listener_url}", flush=True)
    team = start_team_server(core, retry_seconds=0.2, interval=0.1)
    assert team is not None
    took_over = team.leader.on_change

    def on_change(leader: bool) -> None:
        if leader:
            # Active now: attempts left "sending" are a dead server's (only the active one sends), and the
            # sandbox answers at once, so they are orphans after a second (as tests/reliability/crash_driver.py).
            core.pusher.orphan_after = dt.timedelta(seconds=1)
        took_over(leader)
        print("active" if leader else "standby", flush=True)

    team.leader.on_change = on_change
    if team.leader.is_leader:
        on_change(True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    team.stop()
    core.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
