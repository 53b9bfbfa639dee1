"""Building a real Core and a realistic database for the benchmarks."""

from __future__ import annotations

import base64
import datetime as dt
import os
import random
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from codatdesk.engine.core import Core
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database
from codatdesk.store.models import Company, Expense, PushOperation, utcnow

SUPPLIERS = [f"{a} {b}" for a in ("Acme", "Brightside", "Cobalt", "Delta", "Evergreen", "Fulcrum", "Granite",
                                  "Harbour", "Ionic", "Juniper", "Kestrel", "Lumen", "Meridian", "Northwind",
                                  "Orchard", "Pioneer", "Quarry", "Riverside", "Summit", "Tidewater")
             for b in ("Ltd", "Supplies", "Travel", "Catering", "Services", "Hotels", "Office", "Media",
                       "Logistics", "Consulting", "Print", "Cabs", "Networks", "Labs", "Foods")]
DESCRIPTIONS = ("Taxi to client meeting", "Team lunch", "Train ticket", "Hotel, two nights", "Printer toner",
                "Conference fee", "Parking", "Software subscription", "Courier", "Coffee with prospect",
                "Flight to Edinburgh", "Stationery", "Mobile phone bill", "Books", "Client dinner")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def database(home: Path, *, durable: bool = True):
    return open_database(f"sqlite:///{home / 'codatdesk.sqlite3'}", durable=durable)


def make_core(home: Path, *, base_url: str, api_key: str, company_id: str, connection_id: str,
              secrets: list[str] | None = None, listen: bool = True, settings: dict[str, Any] | None = None,
              db=None) -> Core:
    """A Core as the app builds it, with credentials from memory instead of the keyring."""
    store = Settings(home / "settings.json", environ={})
    store.update({
        "codat.base_url": base_url, "codat.company_id": company_id, "codat.connection_id": connection_id,
        "listener.port": 0, "reconcile.interval_seconds": 3600, "reconcile.threshold_seconds": 3600,
        **(settings or {}),
    })
    accepted = secrets if secrets is not None else []
    core = Core(store, db if db is not None else database(home), api_key=lambda: api_key,
                webhook_credentials=lambda: WebhookCredentials(tuple(accepted), None, None), listen=listen)
    core.set_company(company_id, connection_id, name="Benchmark Co")
    return core


def seed_expenses(db, company_id: str, count: int, *, status: ExpenseStatus = ExpenseStatus.NOT_PUSHED,
                  connection_id: str = "", account_code: str = "429", bank: str = "090",
                  seed: int = 1) -> list[tuple[int, str | None]]:
    """Insert ``count`` varied expenses in one transaction; returns ``[(id, push key)]``.

    With ``status=IN_PROGRESS`` each gets a Pending push operation with a fresh key, as
    if it had been pushed.
    """
    rng = random.Random(seed)
    now = utcnow()
    start = dt.date(2025, 1, 1)
    with db.begin() as conn:
        if conn.execute(Company.__table__.select().where(Company.id == company_id)).first() is None:
            conn.execute(insert(Company.__table__), [{"id": company_id, "name": "Benchmark Co", "created_at": now}])
        first_id = (conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM expense").scalar() or 0) + 1
        in_progress = status is ExpenseStatus.IN_PROGRESS
        expenses, operations = [], []
        for offset in range(count):
            expense_id = first_id + offset
            net = Decimal(rng.randint(100, 250_000)) / 100
            tax = (net * Decimal("0.2")).quantize(Decimal("0.01"))
            key = str(uuid.UUID(int=rng.getrandbits(128))) if in_progress else None
            expenses.append({
                "id": expense_id, "company_id": company_id,
                "expense_date": start + dt.timedelta(days=rng.randint(0, 700)),
                "supplier_name": rng.choice(SUPPLIERS), "description": f"{rng.choice(DESCRIPTIONS)} #{expense_id}",
                "account_code": account_code, "account_name": "General Expenses", "bank_account_code": bank,
                "tax_code": "INPUT2", "net": net, "tax": tax, "total": net + tax, "currency": "GBP",
                "reference": f"R-{expense_id:07d}", "status": status, "push_operation_key": key,
                "status_detail": "", "source_key": uuid.UUID(int=rng.getrandbits(128)).hex,
                "created_at": now, "updated_at": now,
            })
            if in_progress:
                operations.append({"key": key, "company_id": company_id, "connection_id": connection_id,
                                   "data_type": "directCosts", "expense_id": expense_id, "status": "Pending",
                                   "requested_at": now})
        conn.execute(insert(Expense.__table__), expenses)
        if operations:
            conn.execute(insert(PushOperation.__table__), operations)
    return [(e["id"], e["push_operation_key"]) for e in expenses]


def map_suppliers(core, company_id: str) -> None:
    """Map every benchmark supplier to the ledger's first supplier, as a user would in Mappings: an
    expense whose supplier the ledger does not have is not sent (#12). Reads the lists first if needed."""
    from sqlmodel import Session, select

    from codatdesk.store.models import ReferenceRecord

    with Session(core.db) as session:
        supplier_id = session.exec(select(ReferenceRecord.codat_id).where(
            ReferenceRecord.company_id == company_id, ReferenceRecord.data_type == "suppliers")).first()
    if supplier_id is None:
        raise AssertionError("no suppliers cached: refresh the reference data first")
    for name in SUPPLIERS:
        core.set_mapping(company_id, "supplier", name, supplier_id)


def ready_to_push(core, company_id: str, count: int) -> list[int]:
    """Seed ``count`` expenses a push can send, and return their ids: the core's first reconciliation is over,
    Codat's lists are read and the suppliers mapped (once per company, not part of the push measured)."""
    core.reconciler.wait_for_run(0, 60)
    core.refresh_reference_data()
    map_suppliers(core, company_id)
    return [expense_id for expense_id, _ in seed_expenses(core.db, company_id, count)]

