"""A running Core against a running sandbox, over real loopback sockets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.engine.core import Core
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.store.db import open_database
from tests.store_kind import database_url as store_url_for

HEADER = "date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,currency,reference\n"


@dataclass
class Harness:
    tmp: Path
    config: SandboxConfig
    sandbox: Sandbox = None
    server: SandboxServer = None
    core: Core = None
    secrets: list = field(default_factory=list)
    settings_overrides: dict = field(default_factory=dict)
    consumer_id: str | None = None
    basic: str | None = None
    # A company on this integration (``codatdesk.integrations``) instead of the demo company (Xero).
    platform_key: str | None = None
    company: tuple[str, str] | None = None  # (company id, connection id) when platform_key is set
    database_url: str | None = None  # the core's store (team tests: a PostgreSQL database); default a file

    def start_sandbox(self) -> None:
        self.sandbox = Sandbox(self.config)
        self.server = SandboxServer(self.sandbox, port=0).start()
        if self.platform_key:
            self.company = self.sandbox.add_company(f"Test Co ({self.platform_key})", self.platform_key)

    @property
    def company_id(self) -> str:
        return self.company[0] if self.company else self.sandbox.company_id

    @property
    def connection_id(self) -> str:
        return self.company[1] if self.company else self.sandbox.connection_id

    def start_core(self, *, listen: bool = True, register: bool = True) -> Core:
        settings = Settings(self.tmp / "settings.json", environ={})
        settings.update({
            "codat.base_url": self.server.base_url,
            "codat.company_id": self.company_id,
            "codat.connection_id": self.connection_id,
            "listener.port": 0,
            "reconcile.interval_seconds": 3600,  # tests call reconcile explicitly
            "reconcile.threshold_seconds": 0,
            **self.settings_overrides,
        })
        # A test's own URL, else SQLite or PostgreSQL as the run asks (tests/store_kind.py).
        db = open_database(self.database_url or store_url_for(self.tmp / "core.sqlite3"))
        self.core = Core(settings, db, api_key=lambda: self.sandbox.api_key,
                         webhook_credentials=lambda: WebhookCredentials(tuple(self.secrets), self.basic, None),
                         listen=listen)
        self.core.set_company(self.company_id, self.connection_id, name="Test Co")
        self.core.pusher.unknown_grace = dt.timedelta(0)  # tests need no wait for Codat's history to catch up
        self.core.start()
        if listen and register:
            # Each start listens on a new free port: point the consumer at it (as the tunnel code does).
            if self.consumer_id:
                self.sandbox.delete_webhook_consumer(self.consumer_id)
            consumer = self.sandbox.add_webhook_consumer(self.core.listener_url, DEMO_EVENT_TYPES)
            self.consumer_id = consumer["id"]
            self.secrets[:] = [self.sandbox.consumer_secret(consumer["id"])]
        return self.core

    def import_rows(self, rows: list[str], *, map_suppliers: bool = True, header: str = HEADER) -> None:
        """Import rows; ``map_suppliers``: map each supplier the ledger does not know to its first
        supplier (as a user would in Mappings: codatdesk does not send an expense without one)."""
        path = self.tmp / f"import-{len(rows)}-{id(rows)}.csv"
        path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
        report = self.core.import_file(path, self.company_id)
        assert report.ok, report.errors
        if map_suppliers:
            self.map_unknown_suppliers()

    def close_bank_account_after_reading(self, code: str = "091") -> None:
        """codatdesk reads the ledger (``code`` is a bank account there); then the ledger stops treating it
        as one, so only Codat can refuse a push paid from it ("Account ... is not a bank account").
        An unknown payment account never gets that far: it is blocked before sending."""
        self.core.refresh_reference_data(self.company_id)
        data = self.sandbox.state.company(self.company_id)
        with self.sandbox.state.lock:
            next(a for a in data.accounts.values() if a["nominalCode"] == code)["isBankAccount"] = False

    def map_unknown_suppliers(self) -> None:
        from sqlmodel import Session, select

        from codatdesk.store.models import Expense

        company_id = self.company_id
        suppliers = self.sandbox.suppliers(company_id)
        known = {s["supplierName"].casefold() for s in suppliers}
        with Session(self.core.db) as session:
            names = set(session.exec(select(Expense.supplier_name).where(Expense.company_id == company_id)))
        for name in sorted(names):
            if name.casefold() not in known:
                self.core.set_mapping(company_id, "supplier", name, suppliers[0]["id"])

    def stop_core(self) -> None:
        if self.core is not None:
            self.core.stop()
            self.core.db.dispose()
            self.core = None

    def stop(self) -> None:
        self.stop_core()
        if self.server is not None:
            self.server.stop()
        if self.sandbox is not None:
            self.sandbox.shutdown()


@contextmanager
def started(tmp_path: Path, *, platform_key: str | None = None, **config: object) -> Iterator[Harness]:
    """A Harness with its sandbox running (``config``: SandboxConfig fields), stopped afterwards."""
    h = Harness(tmp_path, SandboxConfig(**config), platform_key=platform_key)  # type: ignore[arg-type]
    h.start_sandbox()
    try:
        yield h
    finally:
        h.stop()


def row(i: int, *, account="429", name="General Expenses", bank="090", note="", net="10.00", tax="2.00",
        total="12.00", supplier=None, tax_code="INPUT2") -> str:
    description = f"Expense {i}{note}"
    return (f"2026-11-{(i % 27) + 1:02d},{supplier or 'Supplier ' + str(i)},{description},{account},{name},{bank},"
            f"{tax_code},"
            f"{net},{tax},{total},GBP,REF-{i}")


def expenses(core: Core) -> list:
    """Every expense of ``core``'s database, by id."""
    from sqlmodel import Session, select

    from codatdesk.store.models import Expense

    with Session(core.db) as session:
        return list(session.exec(select(Expense).order_by(Expense.id)))


def statuses(core: Core) -> list:
    from codatdesk.states import ExpenseStatus

    return [ExpenseStatus(e.status) for e in expenses(core)]
