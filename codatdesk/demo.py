"""Demo mode: a built-in Codat sandbox, sample expenses, and a core wired to both.

Everything lives in a fresh ``demo`` folder under the data dir, so a demo never
touches the user's real expenses or keyring, and every start shows the same story:
rows turn amber, then green or red within seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from codatdesk import paths
from codatdesk.engine.core import Core
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.store.db import file_url, open_database

if TYPE_CHECKING:
    from codatdesk.sandbox import Sandbox

DEMO_EVENT_TYPES = [
    "directCosts.write.successful", "directCosts.write.unsuccessful",
    "chartOfAccounts.write.successful", "chartOfAccounts.write.unsuccessful",
    "suppliers.write.successful", "suppliers.write.unsuccessful",
    "connection.created", "connection.connected", "connection.disconnected",
    "connection.reconnected", "connection.failed", "connection.deleted",
    "expenses.sync.successful", "expenses.sync.unsuccessful",
]


EXPENSES_COMPANY_NAME = "Demo Expenses Ltd (sandbox, Expenses route)"


def _add_expenses_company(core: Core, sandbox: Sandbox) -> str:
    """A second demo company, on QuickBooks Online (it takes employee claims), that pushes through Codat's
    Expenses route: the company switcher shows both routes side by side."""
    from codatdesk import integrations, routes
    from codatdesk.importer import ensure_company
    from codatdesk.store.db import session_scope

    company_id, connection_id = sandbox.add_company(EXPENSES_COMPANY_NAME, integrations.QUICKBOOKS_ONLINE)
    with session_scope(core.db) as session:
        company = ensure_company(session, company_id, EXPENSES_COMPANY_NAME)
        company.connection_id, company.push_route = connection_id, routes.EXPENSES
        session.add(company)
    return company_id


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
    if core.listener_url is None:  # Core listens unless told not to; the demo never tells it
        raise RuntimeError("the demo's webhook listener did not start")
    consumer = sandbox.add_webhook_consumer(core.listener_url, DEMO_EVENT_TYPES)
    accepted.append(sandbox.consumer_secret(consumer["id"]))
    expenses_company = _add_expenses_company(core, sandbox)
    if sample:
        from codatdesk.importer import import_file

        # A few sample expenses come with their receipts (resources/receipts, named by reference), on each route.
        for company_id in (sandbox.company_id, expenses_company):
            import_file(db, paths.resource("sample-expenses.csv"), company_id,
                        receipts_folder=paths.resource("receipts"))

    def cleanup() -> None:
        core.stop()
        server.stop()
        sandbox.shutdown()
        db.dispose()

    return core, cleanup
