"""The team's server process for the end-to-end test: a Core on the shared PostgreSQL that alone receives
Codat's webhooks and applies them. It stands in for ``codatdesk serve --database URL`` until that command
takes a database (issue #15, part t15a); benchmark B7 runs it too. Prints its listener URL once its first
reconciliation is over, then runs until stdin closes. Like ``codatdesk serve``, it also holds the leader lock
and claims and sends the desktops' push requests (team/server.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from codatdesk.engine.core import Core
from codatdesk.events import ExpenseChanged
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database
from codatdesk.team.server import start_team_server


def _cpu_by_thread() -> dict[str, float]:
    """CPU seconds each kind of thread used (Linux: /proc/self/task), for B7's breakdown."""
    import threading
    from collections import Counter

    names = {t.native_id: t.name.split("_")[0].rstrip("-0123456789") for t in threading.enumerate()}
    used: Counter[str] = Counter()
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        used[names.get(int(task.name), "ended or native")] += (int(fields[11]) + int(fields[12])) / tick
    return dict(used)


def main() -> int:
    config = json.loads(sys.argv[1])
    secret_file = Path(config["secret_file"])
    settings = Settings(Path(config["dir"]) / "settings.json", environ={})
    settings.update({"codat.base_url": config["base_url"], "codat.company_id": config["company_id"],
                     "codat.connection_id": config["connection_id"], "listener.port": 0,
                     "reconcile.interval_seconds": 3600, "reconcile.threshold_seconds": 3600})
    # The signing secret is known once Codat's consumer points at our URL, which we print first. Read once it
    # is there, not at every delivery, as the app reads the keyring through a cache (B7's server opened this
    # file 200 times a second).
    known: list[str] = []

    def credentials() -> WebhookCredentials:
        if not known:
            known.extend(filter(None, [secret_file.read_text()]))
        return WebhookCredentials(tuple(known), None, None)

    core = Core(settings, open_database(config["database"]), api_key=lambda: config["api_key"],
                webhook_credentials=credentials, intake_process=True)  # as `codatdesk serve` on PostgreSQL
    applied: dict[int, float] = {}
    if config.get("trace_file"):  # B7: when each row's change was published here (CLOCK_MONOTONIC is shared)
        core.bus.subscribe(lambda event: applied.setdefault(event.expense_id, time.monotonic())
                           if isinstance(event, ExpenseChanged) and event.new is ExpenseStatus.COMPLETE else None)
    core.start()
    core.reconciler.wait_for_run(0, 60)  # its first run is over: what is seeded next is left to the webhooks
    team = start_team_server(core, retry_seconds=0.2, interval=0.1)
    print(core.listener_url, flush=True)
    sys.stdin.read()
    if config.get("trace_file"):  # before the threads end
        Path(config["trace_file"] + ".threads").write_text(json.dumps(_cpu_by_thread()))
    if team is not None:
        team.stop()
    core.stop()
    core.db.dispose()
    if config.get("trace_file"):
        Path(config["trace_file"]).write_text(json.dumps(applied))

    return 0


if __name__ == "__main__":
    sys.exit(main())
