"""Demo mode: a built-in Codat sandbox, sample expenses, and a core wired to both.

Everything lives in a fresh ``demo`` folder under the data dir, so a demo never
touches the user's real expenses or keyring, and every start shows the same story:
rows turn amber, then green or red within seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from codatdesk import paths
from codatdesk.engine.core import Core
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.store.db import file_url, open_database

DEMO_EVENT_TYPES = [
    "directCosts.write.successful", "directCosts.write.unsuccessful",
    "chartOfAccounts.write.successful", "chartOfAccounts.write.unsuccessful",
    "suppliers.write.successful", "suppliers.write.unsuccessful",
    "connection.created", "connection.connected", "connection.disconnected",
    "connection.reconnected", "connection.failed", "connection.deleted",
]


def start_demo(*, push_delay: float = 1.5, fresh: bool = True, sample: bool = True) -> tuple[Core, Callable[[], None]]:
    from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer

    demo_dir = paths.data_dir() / "demo"
    if fresh and demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True)

    sandbox = Sandbox(SandboxConfig(push_delay=push_delay, seed=7))
    server = SandboxServer(sandbox, port=0).start()
    settings = Settings(demo_dir / "settings.json", environ={})
    settings.update({
        "codat.base_url": server.base_url,
        "codat.company_id": sandbox.company_id,
        "codat.connection_id": sandbox.connection_id,
        "listener.port": 0,  # any free port: a demo must start even if the real app is running
        "reconcile.interval_seconds": 30,
        "reconcile.threshold_seconds": 10,
    })
    accepted: list[str] = []
    db = open_database(file_url(demo_dir / "demo.sqlite3"))
    core = Core(settings, db, api_key=lambda: sandbox.api_key,
                webhook_credentials=lambda: WebhookCredentials(tuple(accepted), None, None))
    core.set_company(sandbox.company_id, sandbox.connection_id, name="Demo Company Ltd (sandbox)")
    core.start()
    consumer = sandbox.add_webhook_consumer(core.listener_url, DEMO_EVENT_TYPES)
    accepted.append(sandbox.consumer_secret(consumer["id"]))
    if sample:
        from codatdesk.importer import import_file

        # A few sample expenses come with their receipts (resources/receipts, named by reference).
        import_file(db, paths.resource("sample-expenses.csv"), sandbox.company_id,
                    receipts_folder=paths.resource("receipts"))

    def cleanup() -> None:
        core.stop()
        server.stop()
        sandbox.shutdown()
        db.dispose()

    return core, cleanup
