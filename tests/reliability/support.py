"""Helpers for the reliability and security suites (issue #8).

Sizes: each suite has a bounded size that runs in the normal suite and a full size
(``CODATDESK_FULL=1``). Every file a suite writes stays under its test's data dir;
the secrets suite (run last, see ``conftest.pytest_collection_modifyitems``) scans all of them
for every secret the suites used.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from standardwebhooks import Webhook

FULL = os.environ.get("CODATDESK_FULL") == "1"


def sized(bounded: int, full: int) -> int:
    """The suite's size for this run: ``full`` with CODATDESK_FULL=1."""
    return full if FULL else bounded


# --- what the secrets suite scans ---------------------------------------------------------

@dataclass
class SecretRegistry:
    """Secrets the suites handed to codatdesk, and the data dirs it wrote to."""

    values: set[str] = field(default_factory=set)
    dirs: list[Path] = field(default_factory=list)

    def secret(self, value: str) -> str:
        self.values.add(value)
        return value

    def directory(self, path: Path) -> Path:
        if path not in self.dirs:
            self.dirs.append(path)
        return path


REGISTRY = SecretRegistry()


# --- timing ---------------------------------------------------------------------------------

@dataclass
class Stopwatch:
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def report(suite: str, **facts: object) -> None:
    """One line per run for docs/reliability.md (shown with ``pytest -s`` or ``-rP``)."""
    line = json.dumps({"suite": suite, "full": FULL, **facts}, default=str)
    print(f"\nRELIABILITY {line}")
    path = os.environ.get("CODATDESK_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


# --- webhook deliveries ---------------------------------------------------------------------

def sign(secret: str, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` as Codat (Svix) sends them."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), body.decode("utf-8"))
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature,
            "content-type": "application/json", "user-agent": "Svix-Webhooks/1.0"}


def new_secret(seed: bytes) -> str:
    return "whsec_" + base64.b64encode(seed.ljust(32, b"#")[:32]).decode()


EVENT_COMPANY = "company"


def write_event(key: str, status: str, event_id: str, *, data_type: str = "directCosts") -> bytes:
    """A write-result webhook body in Codat's current envelope."""
    outcome = "successful" if status == "Success" else "unsuccessful"
    payload: dict = {"id": key, "type": "Create", "connectionId": "conn", "status": status,
                     "requestedOnDate": "2026-11-28T09:59:00Z", "completedOnDate": "2026-11-28T10:00:00Z",
                     "referenceCompany": {"id": EVENT_COMPANY, "name": "Reliability Co"}}
    if status == "Success":
        payload["record"] = {"id": f"rec-{key}"}
    return json.dumps({"id": event_id, "eventType": f"{data_type}.write.{outcome}",
                       "generatedDate": "2026-11-28T10:00:00Z", "payload": payload}).encode()


@dataclass
class Delivery:
    """One HTTP request of a storm and the answer it must get."""

    name: str  # genuine|duplicate|forged:<kind>|malformed:<kind>|...
    msg_id: str
    body: bytes | Iterable[bytes]
    expect: int
    headers: Callable[[], dict[str, str]]  # built at send time (fresh timestamp, as on a retry)
    status: int | None = None
    error: str | None = None


def send_all(url: str, deliveries: Sequence[Delivery], *, senders: int = 16, timeout: float = 20.0,
             stop: threading.Event | None = None) -> None:
    """Send every delivery from ``senders`` concurrent clients; records status or transport error."""
    lock = threading.Lock()
    position = iter(range(len(deliveries)))

    def worker() -> None:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            while stop is None or not stop.is_set():
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                delivery = deliveries[index]
                body = delivery.body
                content = body() if callable(body) else body
                try:
                    response = client.post(url, content=content, headers=delivery.headers())
                    delivery.status = response.status_code
                except httpx.HTTPError as exc:
                    delivery.error = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=worker, name=f"storm-{i}", daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- expenses in progress, written straight to the database ----------------------------------

def seed_expenses(db, company_id: str, specs: Sequence[dict]) -> list[int]:
    """Insert expenses; a spec may carry ``key`` (in progress with that push key), ``status``,
    ``op_status`` and ``old_key``/``old_status`` (an earlier push of the same expense).

    Status changes go through ``change_status`` so the history is as the product writes it.
    """
    from codatdesk.importer import ensure_company
    from codatdesk.states import ExpenseStatus, Trigger, sending_trigger
    from codatdesk.store.db import session_scope
    from codatdesk.store.history import Cause, change_status
    from codatdesk.store.models import Expense, PushOperation

    ids: list[int] = []
    with session_scope(db) as session:
        ensure_company(session, company_id, "Reliability Co")
        # The company ``write_event`` names is one this app serves (another's events are dropped).
        ensure_company(session, EVENT_COMPANY, "Reliability Co").connection_id = "conn"
        for n, spec in enumerate(specs):
            expense = Expense(
                company_id=company_id, expense_date=dt.date(2026, 11, 1 + n % 28), supplier_name=f"Supplier {n}",
                description=spec.get("description", f"Expense {n}"), account_code="429", account_name="General",
                bank_account_code="090", net=Decimal("10.00"), tax=Decimal("2.00"), total=Decimal("12.00"),
                currency="GBP", reference=f"REF-{n}", source_key=f"seed-{n}-{spec.get('key', '')}")
            session.add(expense)
            session.flush()
            ids.append(expense.id)
            if spec.get("old_key"):
                session.add(PushOperation(key=spec["old_key"], company_id=company_id, connection_id="conn",
                                          data_type="directCosts", expense_id=expense.id,
                                          status=spec.get("old_status", "Failed")))
                change_status(session, expense, Trigger.PUSH_SENT, Cause.user("seed"), push_operation_key=spec["old_key"])
                change_status(session, expense, Trigger.RESULT_FAILED if spec.get("old_status", "Failed") == "Failed"
                              else Trigger.RESULT_TIMED_OUT, Cause.user("seed"))
            if spec.get("key"):
                session.add(PushOperation(key=spec["key"], company_id=company_id, connection_id="conn",
                                          data_type="directCosts", expense_id=expense.id,
                                          status=spec.get("op_status", "Pending")))
                # After a timed-out old push, only "push again anyway" sends it again.
                change_status(session, expense, sending_trigger(ExpenseStatus(expense.status), Trigger.PUSH_SENT),
                              Cause.user("seed"), push_operation_key=spec["key"])
                final = {"Success": Trigger.RESULT_SUCCESS, "Failed": Trigger.RESULT_FAILED,
                         "TimedOut": Trigger.RESULT_TIMED_OUT}.get(spec.get("op_status", "Pending"))
                if final is not None:
                    change_status(session, expense, final, Cause.user("seed"))
    return ids


def snapshot_expenses(db) -> list[tuple]:
    """Every column of every expense row (to prove nothing changed)."""
    from sqlalchemy import text

    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT * FROM expense ORDER BY id"))]


def count_rows(db, table: str) -> int:
    from sqlalchemy import text

    with db.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def integrity_check(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return ";".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_request(port: int, data: bytes, *, timeout: float = 5.0, half_close: bool = False) -> tuple[bytes, float]:
    """Send raw bytes; read until the server closes or ``timeout``. Returns (answer, seconds)."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionError, OSError):
            pass
    return received, time.monotonic() - started


def status_of(answer: bytes) -> int | None:
    """The status code of the first final (non-1xx) HTTP response in ``answer``."""
    for line in answer.split(b"\r\n"):
        if line.startswith(b"HTTP/1."):
            try:
                code = int(line.split(b" ", 2)[1])
            except (IndexError, ValueError):
                return None
            if code >= 200:
                return code
    return None
