"""A core for widget tests, built on ``core_api.CoreAPI``: no sockets, threads, keyring or sandbox.

The store is a real SQLite file (the views read it through the core's own read models,
``engine.read_models*``, as ``StoreReads``), and the edits go through
the real ``engine.edits`` (so the hand-entry rules are the core's); pushes, checks and Codat calls are
recorded in ``calls`` and answered from ``problems`` / ``connection_status``.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from sqlmodel import select

from codatdesk.core_api import (
    EDITABLE_STATUSES,
    RESTART_SETTINGS,
    RETRYABLE_STATUSES,
    CompanyChoice,
    ExpenseValues,
    ReceiptView,
    SettingsApplied,
)
from codatdesk.engine import edits, read_models
from codatdesk.engine.push_check import CheckedPush
from codatdesk.engine.pusher import PushBatch, PushProblem
from codatdesk.engine.store_queries import StoreQueries
from codatdesk.events import EventBus
from codatdesk.importer import ImportReport, ensure_company
from codatdesk.receipts import attach as receipt_attach
from codatdesk.receipts.files import ReceiptFiles
from codatdesk.settings import Settings
from codatdesk.settings_actions import CheckResult, SaveResult
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import bind_bus, open_database, read_session, session_scope
from codatdesk.store.models import Expense


class StoreReads(StoreQueries):
    """The core's queries over one database, for a view test that has a store and nothing else
    (``StoreReads(db)``); ``FakeCore`` is one too. ``chosen``: company id -> the connection Settings chose."""

    def __init__(self, db: Any, chosen: dict[str, str] | None = None) -> None:
        self.db = db
        self._chosen = chosen or {}

    def _chosen_connections(self) -> dict[str, str]:
        return self._chosen

    # The writes a view test needs besides reading (the real core's, on this store).
    def set_supplier_creation(self, company_id: str, allowed: bool) -> None:
        from codatdesk.engine.suppliers import set_supplier_creation

        set_supplier_creation(self.db, company_id, allowed)

    def set_mapping(self, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None:
        edits.set_mapping(self.db, company_id, kind, local_value, codat_id)


class FakeCore(StoreReads):
    def __init__(self, folder: Path, company_id: str | None = "c1") -> None:
        self.db = open_database(f"sqlite:///{folder / 'fake-core.sqlite3'}")
        self.settings = Settings(folder / "settings.json", environ={})
        if company_id:
            self.settings.update({"codat.company_id": company_id})
            with session_scope(self.db) as session:
                ensure_company(session, company_id, f"Company {company_id}")
        self.bus = EventBus()
        bind_bus(self.db, self.bus)  # committed changes are published, as the real core does
        self.calls: list[tuple[str, Any]] = []
        self.problems: list[PushProblem] = []  # what check_pushable answers
        self.connection_status = "Linked"
        self.codat_companies: list[dict] = [{"id": "c1", "name": "Company c1"}]  # what check_api_key answers
        self.codat_connections: list[dict] = []  # what list_codat_connections answers
        self._batch_ids = itertools.count(1)
        self.updatable_in_ledger: set[int] = set()  # what can_update_in_ledger answers yes for
        self.updatable_asked_on: list[str] = []  # the thread each can_update_in_ledger ran on
        self.values_read_on: list[str] = []  # the thread each expense_values ran on (the edit dialog's read)
        self.receipt_files = ReceiptFiles(folder / "receipts")  # real files: the pane shows their thumbnails

    def _chosen_connections(self) -> dict[str, str]:
        chosen = self.settings.get("codat.connection_id")
        return {self.company_id: chosen} if self.company_id and chosen else {}

    @property
    def company_id(self) -> str | None:
        return self.settings.get("codat.company_id")

    @property
    def listener_url(self) -> str | None:
        return None

    # -- queries ------------------------------------------------------------------------
    def health_snapshot(self) -> list:
        return []

    def companies_to_show(self) -> list[CompanyChoice]:
        return read_models.companies_to_show(self.db, self.company_id)

    def chosen_connection_id(self, company_id: str) -> str | None:
        return self.settings.get("codat.connection_id") if company_id == self.company_id else None

    def expense_values(self, expense_id: int) -> ExpenseValues | None:
        import threading

        self.values_read_on.append(threading.current_thread().name)
        return read_models.expense_values(self.db, expense_id)

    def export_details(self, expense_ids: list[int]) -> dict:
        return read_models.export_details(self.db, expense_ids)

    def can_edit(self, status: ExpenseStatus) -> bool:
        return status in EDITABLE_STATUSES

    def can_retry(self, status: ExpenseStatus) -> bool:
        return status in RETRYABLE_STATUSES

    # -- actions ------------------------------------------------------------------------
    def _batch(self, name: str, ids: list[int]) -> PushBatch:
        self.calls.append((name, list(ids)))
        return PushBatch(next(self._batch_ids), len(ids))

    def check_pushable(self, expense_ids: list[int], *, again_anyway: bool = False) -> list[PushProblem]:
        self.calls.append(("check_pushable", list(expense_ids)))
        return [p for p in self.problems if p.expense_id in expense_ids]

    def check_push(self, expense_ids: list[int], *, again_anyway: bool = False) -> CheckedPush:
        problems = self.check_pushable(expense_ids, again_anyway=again_anyway)
        return CheckedPush(frozenset(expense_ids), again_anyway, tuple(problems), {}, writes_seen=0)

    def push(self, expense_ids: list[int], *, user: str = "user", checked: CheckedPush | None = None) -> PushBatch:
        self.checked_given = checked  # what the window passed on from its check
        return self._batch("push", expense_ids)

    def push_again_anyway(self, expense_ids: list[int], *, user: str = "user",
                          checked: CheckedPush | None = None) -> PushBatch:
        self.checked_given = checked
        return self._batch("push_again_anyway", expense_ids)

    def retry_failed(self, company_id: str | None = None, *, user: str = "user") -> PushBatch:
        with read_session(self.db) as session:
            ids = list(session.exec(select(Expense.id).where(Expense.status.in_(RETRYABLE_STATUSES),
                                                             Expense.company_id == company_id)).all())
        return self._batch("retry_failed", ids)

    def reconcile_now(self) -> None:
        self.calls.append(("reconcile_now", None))

    def import_file(self, path: str | Path, company_id: str | None = None, *, number_format: Any = None) -> ImportReport:
        from codatdesk.importer import import_file

        self.calls.append(("import_file", str(path)))
        return import_file(self.db, path, company_id or self.company_id or "local", bus=self.bus,
                           number_format=number_format)

    def refresh_reference_data(self, company_id: str | None = None) -> dict[str, int]:
        self.calls.append(("refresh_reference_data", company_id))
        return {}

    def expenses_config(self, company_id: str | None = None):
        self.calls.append(("expenses_config", company_id))
        from codatdesk.engine.expenses_config import ExpensesConfig

        return ExpensesConfig(None, None, None)

    def set_expenses_config(self, company_id: str | None = None, *, bank_account: str | None = None,
                            supplier: str | None = None, customer: str | None = None):
        self.calls.append(("set_expenses_config", company_id, bank_account, supplier, customer))
        from codatdesk.engine.expenses_config import ExpensesConfig

        return ExpensesConfig(None, None, customer)

    def delete_expenses(self, expense_ids: list[int]) -> int:
        self.calls.append(("delete_expenses", list(expense_ids)))
        with session_scope(self.db) as session:
            for expense_id in expense_ids:
                session.delete(session.get(Expense, expense_id))
        return len(expense_ids)

    def add_expense(self, company_id: str, values: dict[str, Any]) -> int:
        return edits.add_expense(self.db, self.bus, company_id, values)

    def update_expense(self, expense_id: int, values: dict[str, Any], *,
                       expected_version: int | None = None) -> None:
        edits.update_expense(self.db, self.bus, expense_id, values, expected_version=expected_version)

    def can_update_in_ledger(self, expense_id: int) -> bool:
        import threading

        self.updatable_asked_on.append(threading.current_thread().name)
        return expense_id in self.updatable_in_ledger

    def update_in_ledger(self, expense_id: int, values: dict[str, Any]) -> str:
        self.calls.append(("update_in_ledger", expense_id, dict(values)))
        return "sync-id"

    def reset_expense(self, expense_id: int, *, user: str = "user") -> None:
        self.calls.append(("reset_expense", expense_id))

    def set_company(self, company_id: str, connection_id: str | None = None, name: str | None = None) -> None:
        self.calls.append(("set_company", company_id))

    def check_connection(self, company_id: str | None = None) -> str:
        self.calls.append(("check_connection", company_id))
        return self.connection_status

    def check_api_key(self, base_url: str, api_key: str | None) -> CheckResult:
        self.calls.append(("check_api_key", base_url))
        return CheckResult(tuple(self.codat_companies))

    def list_codat_connections(self, base_url: str, api_key: str | None, company_id: str) -> CheckResult:
        self.calls.append(("list_codat_connections", company_id))
        return CheckResult(tuple(self.codat_connections))

    def save_settings(self, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> SaveResult:
        """Settings are written (a real file); secrets are only recorded: the fake has no keyring."""
        self.calls.append(("save_settings", set(typed_secrets)))
        changed = frozenset(k for k, v in values.items() if v != self.settings.get(k))
        self.settings.update({k: values[k] for k in changed})
        return SaveResult(changed, frozenset(typed_secrets))

    def settings_saved(self, changed: Collection[str], secrets_changed: Collection[str]) -> SettingsApplied:
        self.calls.append(("settings_saved", (set(changed), set(secrets_changed))))
        return SettingsApplied(frozenset(set(changed) & RESTART_SETTINGS))

    def recheck_missing_rates(self, company_id: str) -> Any:
        self.calls.append(("recheck_missing_rates", company_id))
        from codatdesk.engine.rate_table import Recheck

        return Recheck([], [])

    def receipts(self, expense_id: int) -> list[ReceiptView]:
        return receipt_attach.receipts_of(self.db, self.receipt_files, expense_id)

    def attach_receipt(self, expense_id: int, path: str | Path) -> ReceiptView:
        self.calls.append(("attach_receipt", (expense_id, str(path))))
        return receipt_attach.attach(self.db, self.receipt_files, expense_id, path)

    def detach_receipt(self, receipt_id: int) -> None:
        self.calls.append(("detach_receipt", receipt_id))
        receipt_attach.detach(self.db, self.receipt_files, receipt_id)

    def retry_receipt_upload(self, receipt_id: int) -> None:
        self.calls.append(("retry_receipt_upload", receipt_id))

    def close(self) -> None:
        self.db.dispose()
