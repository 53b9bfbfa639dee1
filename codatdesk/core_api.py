"""What the window may ask of the core: one typed seam, no Qt, no SQLModel rows.

``engine.core.Core`` implements it; ``tests/ui/fake_core.py`` implements it for widget tests
that need no sockets, threads or sandbox. Queries return small frozen read models; actions
are blocking calls the window runs off the GUI thread (``ui.workers.run_in_background``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codatdesk.states import ExpenseStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from codatdesk.amounts import NumberFormat
    from codatdesk.engine.pusher import PushBatch, PushProblem
    from codatdesk.engine.rate_table import RateEntry, Recheck
    from codatdesk.events import EventBus, HealthEvent
    from codatdesk.importer import ImportReport
    from codatdesk.settings import Settings

# Read when the listener, webhook verifier, push pool and tunnel start: a change waits for a restart.
RESTART_SETTINGS = frozenset({
    "listener.port", "listener.path", "listener.max_body_bytes", "listener.read_timeout",
    "listener.max_concurrency", "webhook.require_signature", "webhook.authorization", "push.concurrency",
    "tunnel.provider", "tunnel.public_url", "tunnel.hostname", "tunnel.cloudflared_path", "tunnel.ngrok_path",
})
# Hand edits keep the audit trail honest: once sent (in progress, complete, unknown), a row is Codat's.
EDITABLE_STATUSES = frozenset({ExpenseStatus.NOT_PUSHED, ExpenseStatus.FAILED})
# Retry failed sends these again; Outcome unknown stays out: it may be in the ledger already.
RETRYABLE_STATUSES = frozenset({ExpenseStatus.FAILED})


@dataclass(frozen=True)
class CompanyChoice:
    """A company the window offers in its company list."""

    id: str
    name: str


@dataclass(frozen=True)
class ExpenseValues:
    """One expense as a person edits it (``engine.edits.FIELDS``), typed: Decimal money, date dates."""

    id: int
    company_id: str
    expense_date: dt.date | None
    supplier_name: str
    description: str
    account_code: str
    account_name: str
    bank_account_code: str
    tax_code: str
    net: Decimal | None
    tax: Decimal | None
    total: Decimal | None
    currency: str
    currency_rate: Decimal | None
    reference: str
    version: int = 0  # the expense's version when read: a save names it (0: not known, no check)
    updated_by: str | None = None  # who edited it last

    def fields(self) -> dict[str, Any]:
        """The editable values by Expense attribute (what the expense dialog fills in)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name not in ("id", "company_id", "version", "updated_by")}


@dataclass(frozen=True)
class SettingsApplied:
    """What saving settings changed in the running core."""

    restart_needed: frozenset[str]  # changed keys that take effect at the next start


class CoreAPI(Protocol):
    """Everything the window asks of the core."""

    settings: Settings
    bus: EventBus
    # Views not yet moved to read models (table, details, mapping, connections, activity) read the
    # store through this engine on the GUI thread (deferred read transactions, WAL).
    db: Engine

    @property
    def company_id(self) -> str | None: ...

    @property
    def listener_url(self) -> str | None: ...

    # -- queries (read models) -----------------------------------------------------
    def health_snapshot(self) -> list[HealthEvent]:
        """The newest health fact of each kind, for a view that starts after they were published."""

    def companies_to_show(self) -> list[CompanyChoice]:
        """Companies with expenses, and the chosen one, by name."""
        ...

    def chosen_connection_id(self, company_id: str) -> str | None:
        """The connection Settings chose, for the chosen company only."""
        ...

    def expense_values(self, expense_id: int) -> ExpenseValues | None: ...

    def can_edit(self, status: ExpenseStatus) -> bool: ...

    def can_retry(self, status: ExpenseStatus) -> bool: ...

    # -- actions (blocking: run them off the GUI thread) --------------------------------
    def check_pushable(self, expense_ids: list[int], *, again_anyway: bool = False) -> list[PushProblem]: ...

    def push(self, expense_ids: list[int], *, user: str = "user") -> PushBatch: ...

    def push_again_anyway(self, expense_ids: list[int], *, user: str = "user") -> PushBatch: ...

    def retry_failed(self, company_id: str | None = None, *, user: str = "user") -> PushBatch: ...

    def reconcile_now(self) -> None: ...

    def import_file(self, path: str | Path, company_id: str | None = None, *,
                    number_format: NumberFormat | None = None) -> ImportReport: ...

    def refresh_reference_data(self, company_id: str | None = None) -> dict[str, int]: ...

    def delete_expenses(self, expense_ids: list[int]) -> int: ...

    def add_expense(self, company_id: str, values: dict[str, Any]) -> int: ...

    def update_expense(self, expense_id: int, values: dict[str, Any], *,
                       expected_version: int | None = None) -> None: ...

    def reset_expense(self, expense_id: int, *, user: str = "user") -> None: ...

    def set_mapping(self, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None: ...

    def set_company(self, company_id: str, connection_id: str | None = None, name: str | None = None) -> None: ...

    def check_connection(self, company_id: str | None = None) -> str: ...

    def settings_saved(self, changed: Collection[str], secrets_changed: Collection[str]) -> SettingsApplied:
        """Saved settings reach the running core (a new API key or URL: a new client)."""
        ...

    def save_rate(self, company_id: str, currency: str, rate: Decimal, valid_from: dt.date, *,
                  replacing: int | None = None) -> RateEntry: ...

    def delete_rate(self, company_id: str, rate_id: int) -> None: ...

    def recheck_missing_rates(self, company_id: str) -> Recheck: ...
