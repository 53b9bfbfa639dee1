"""What the window may ask of the core: one typed seam, no Qt, no SQLModel rows.

``engine.core.Core`` implements it; ``tests/ui/fake_core.py`` implements it for widget tests
that need no sockets, threads or sandbox. Queries return small frozen read models; actions
are blocking calls the window runs off the GUI thread (``ui.workers.run_in_background``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codatdesk.machines import connection_is_down
from codatdesk.states import ExpenseStatus

# The table's row is the store's read model: it keeps the stored values (so 100,000 rows load as one
# C call each and sort on integers) and decodes them only through named, typed fields; no view decodes.
from codatdesk.store.expense_rows import ExpenseRow as ExpenseRow  # re-exported: the views import it from here
from codatdesk.store.expense_rows import stored_order_key
from codatdesk.store.expense_rows import totals_by_currency as totals_by_currency  # re-exported for the views

if TYPE_CHECKING:
    from codatdesk.amounts import NumberFormat
    from codatdesk.engine.push_check import CheckedPush
    from codatdesk.engine.pusher import PushBatch, PushProblem
    from codatdesk.engine.rate_table import RateEntry, RateTable, Recheck
    from codatdesk.engine.reference import Candidate
    from codatdesk.events import EventBus, HealthEvent
    from codatdesk.importer import ImportReport
    from codatdesk.lines import Line
    from codatdesk.settings import Settings
    from codatdesk.settings_actions import CheckResult, SaveResult

# A sort key (the field, then the id) on a row's stored value, for the fields whose stored value orders
# like the decoded one (date, net, tax, total): sorting 100,000 rows then decodes none of them.
table_order_key = stored_order_key

# Read when the listener, webhook verifier, push pool and tunnel start: a change waits for a restart.
RESTART_SETTINGS = frozenset({
    "listener.port", "listener.path", "listener.max_body_bytes", "listener.read_timeout",
    "listener.max_concurrency", "webhook.require_signature", "webhook.authorization", "push.concurrency",
    "tunnel.provider", "tunnel.public_url", "tunnel.hostname", "tunnel.cloudflared_path", "tunnel.ngrok_path",
    "database.url",
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
    push_route: str = "directCosts"  # codatdesk/routes.py: shown next to the name


@dataclass(frozen=True)
class TrackingChoice:
    """A tracking category a line may carry: Codat's id, its name and its parent's name ("" at the top)."""

    id: str
    name: str
    parent_name: str = ""

    @property
    def label(self) -> str:
        """"Departments: Finance", as a person reads it."""
        return f"{self.parent_name}: {self.name}" if self.parent_name else self.name


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
    is_claim: bool = False
    employee: str = ""
    transaction_type: str | None = None  # Codat's expense transaction type when named (transaction_types.py)
    lines: tuple[Any, ...] = ()  # codatdesk.lines.Line of an expense with stored lines (several, or tracking)
    version: int = 0  # the expense's version when read: a save names it (0: not known, no check)
    updated_by: str | None = None  # who edited it last

    def fields(self) -> dict[str, Any]:
        """The editable values by Expense attribute (what the expense dialog fills in)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name not in ("id", "company_id", "lines", "version", "updated_by")}


@dataclass(frozen=True)
class ReceiptView:
    """One receipt as the details pane shows it (``receipts.attach.receipts_of``)."""

    id: int
    expense_id: int
    file_name: str
    media_type: str
    size: int
    path: Path  # the stored copy (content-addressed), for a thumbnail
    upload_status: str  # receipts.uploads.UploadStatus
    upload_detail: str
    remote_id: str | None
    uploaded_at: dt.datetime | None

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    @property
    def state_text(self) -> str:
        """Where the upload stands, in plain words (the reason too when it failed)."""
        words = {"pending": "waits for the push to complete", "uploading": "uploading",
                 "uploaded": "uploaded", "failed": "failed", "refused": "not accepted"}
        text = words.get(self.upload_status, self.upload_status)
        return f"{text}: {self.upload_detail}" if self.upload_detail and self.upload_status != "uploaded" else text


@dataclass(frozen=True)
class ExpenseRecord:
    """One expense as the details pane shows it (the store's ``Expense`` fields it names, decoded)."""

    id: int
    company_id: str
    status: ExpenseStatus
    status_detail: str
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
    reference: str
    push_operation_key: str | None
    waiting_on_key: str | None
    updated_at: dt.datetime | None
    is_claim: bool = False  # an employee's claim (Expenses route only)
    employee: str = ""


@dataclass(frozen=True)
class OperationRecord:
    """One push operation (Codat's words: status, HTTP status, raw validation lists)."""

    key: str
    expense_id: int | None
    data_type: str
    creates_code: str | None
    status: str
    requested_at: dt.datetime | None
    completed_at: dt.datetime | None
    record_id: str | None
    status_code: int | None
    error_message: str | None
    validation_errors_json: str | None
    validation_warnings_json: str | None
    has_reasons: bool


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of an expense."""

    at: dt.datetime
    from_status: str
    to_status: str
    trigger: str
    detail: str
    cause_kind: str
    cause_ref: str
    actor: str | None = None  # who (a person, or the server's role); None before schema 0009


@dataclass(frozen=True)
class DeliveryRecord:
    """One stored webhook delivery, with the words of the expense it was about (outer join: may be None)."""

    inbox_id: int
    delivery_id: str
    received_at: dt.datetime
    event_type: str
    verdict: str
    verdict_detail: str
    expense_id: int | None
    supplier_name: str | None = None
    expense_date: dt.date | None = None
    total: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class ExpenseDetails:
    """Everything the details pane shows of one expense, read in one transaction."""

    expense: ExpenseRecord
    company_name: str
    operations: tuple[OperationRecord, ...] = ()  # newest first
    history: tuple[HistoryEntry, ...] = ()  # oldest first
    deliveries: tuple[DeliveryRecord, ...] = ()  # newest first
    lines: tuple[Line, ...] = ()  # a split expense's stored lines (codatdesk/lines.py); () for a single line
    push_route: str = "directCosts"  # the company's route (codatdesk/routes.py)


@dataclass(frozen=True)
class ConnectionInfo:
    """A company's accounting connection as the Connections tab and the banner show it."""

    company_id: str
    company_name: str
    connection_id: str | None
    platform: str
    status: str
    link_url: str | None
    checked_at: dt.datetime | None
    errors: str
    chosen: bool  # the connection the company pushes to

    @property
    def ok(self) -> bool:
        return not connection_is_down(self.status)


# MappingRow.outcome: how a value fares at the push (the view styles each; "not checked" is the view's own).
MATCHED, CREATED, OPTIONAL, NEEDS_YOU = "matched", "created", "optional", "needs you"
NO_TAX_LABEL = "(no tax code)"  # how an empty tax code is shown and mapped


@dataclass(frozen=True)
class MappingRow:
    """One value the company's expenses use, and how the push's rules match it in Codat's lists."""

    kind: str
    local_value: str
    local_name: str  # account name from the expenses, if any
    used_by: int
    codat_id: str | None
    codat_label: str
    how: str  # sentence: "by nominal code", "mapped by hand", "will be created on push", ...
    outcome: str  # matched|created|needs you
    currency: str = ""  # payment accounts: the currency most of its expenses are in


@dataclass(frozen=True)
class MappingOverview:
    """The Mapping tab's rows and what is known of Codat's lists for the company."""

    rows: tuple[MappingRow, ...]
    list_counts: dict[str, int]  # Codat data type -> records stored
    lists_read_at: dt.datetime | None  # the newest read of any list; None: never read
    create_suppliers: bool  # the company lets codatdesk create suppliers the ledger lacks


@dataclass(frozen=True)
class SettingsApplied:
    """What saving settings changed in the running core."""

    restart_needed: frozenset[str]  # changed keys that take effect at the next start


class CoreAPI(Protocol):
    """Everything the window asks of the core."""

    settings: Settings
    bus: EventBus

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

    def export_details(self, expense_ids: list[int]) -> dict[int, Any]:
        """What an export writes besides the table's rows: lines, claim, employee (``store.lines.ExportDetails``)."""
        ...

    def can_edit(self, status: ExpenseStatus) -> bool: ...

    # Views read these on the GUI thread (deferred read transactions, WAL: short, never blocked by a writer).
    def expense_rows(self, company_id: str | None) -> list[ExpenseRow]:
        """The table's rows of a company (None: every company), newest date first, in one query."""
        ...

    def expense_rows_by_id(self, expense_ids: list[int]) -> dict[int, ExpenseRow]:
        """The rows of these expenses that still exist, by id (a live refresh of a few rows)."""
        ...

    def expense_details(self, expense_id: int) -> ExpenseDetails | None: ...

    def deliveries(self, *, after_id: int = 0, inbox_ids: Collection[int] = (),
                   limit: int = 2000) -> list[DeliveryRecord]:
        """The newest ``limit`` stored deliveries above inbox id ``after_id``, plus those in ``inbox_ids``,
        oldest first."""
        ...

    def dropped_delivery_count(self) -> int: ...

    def connections(self) -> list[ConnectionInfo]:
        """Every known connection, plus a row for each company whose chosen connection is not seen yet."""
        ...

    def mapping_overview(self, company_id: str) -> MappingOverview: ...

    def mapping_candidates(self, company_id: str, kind: str, currency: str | None = None) -> list[Candidate]:
        """The active Codat records a value of this kind may be mapped to."""
        ...

    def supplier_creation_allowed(self, company_id: str) -> bool: ...

    def tracking_categories(self, company_id: str) -> list[TrackingChoice]:
        """The tracking categories a line may carry (leaves only), from the cached reference data."""
        ...

    def read_rates(self, company_id: str) -> RateTable: ...

    def can_retry(self, status: ExpenseStatus) -> bool: ...

    # -- actions (blocking: run them off the GUI thread) --------------------------------
    def check_pushable(self, expense_ids: list[int], *, again_anyway: bool = False) -> list[PushProblem]: ...

    def check_push(self, expense_ids: list[int], *, again_anyway: bool = False) -> CheckedPush:
        """``check_pushable`` as a token: ``push(..., checked=)`` takes it instead of checking again
        when nothing was written since (``engine/push_check.py``)."""
        ...

    def push(self, expense_ids: list[int], *, user: str = "user", checked: CheckedPush | None = None) -> PushBatch: ...

    def push_again_anyway(self, expense_ids: list[int], *, user: str = "user",
                          checked: CheckedPush | None = None) -> PushBatch: ...

    def retry_failed(self, company_id: str | None = None, *, user: str = "user") -> PushBatch: ...

    def reconcile_now(self) -> None: ...

    def import_file(self, path: str | Path, company_id: str | None = None, *,
                    number_format: NumberFormat | None = None) -> ImportReport: ...

    def refresh_reference_data(self, company_id: str | None = None) -> dict[str, int]: ...

    def expenses_config(self, company_id: str | None = None) -> Any: ...

    def set_expenses_config(self, company_id: str | None = None, *, bank_account: str | None = None,
                            supplier: str | None = None, customer: str | None = None) -> Any: ...

    def delete_expenses(self, expense_ids: list[int]) -> int: ...

    def add_expense(self, company_id: str, values: dict[str, Any]) -> int: ...

    def update_expense(self, expense_id: int, values: dict[str, Any], *,
                       expected_version: int | None = None) -> None: ...

    def can_update_in_ledger(self, expense_id: int) -> bool: ...

    def update_in_ledger(self, expense_id: int, values: dict[str, Any]) -> str: ...

    def reset_expense(self, expense_id: int, *, user: str = "user") -> None: ...

    def set_mapping(self, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None: ...

    def set_supplier_creation(self, company_id: str, allowed: bool) -> None: ...

    def set_company(self, company_id: str, connection_id: str | None = None, name: str | None = None) -> None: ...

    def check_connection(self, company_id: str | None = None) -> str: ...

    # The settings dialog's questions (``settings_actions.SettingsActions``; the wizard, before a core
    # exists, asks ``settings_actions.Standalone``). Failures come back as a reason and a fix.
    def check_api_key(self, base_url: str, api_key: str | None) -> CheckResult:
        """The companies this key sees (``api_key`` None: the stored key)."""
        ...

    def list_codat_connections(self, base_url: str, api_key: str | None, company_id: str) -> CheckResult:
        """The company's accounting connections in Codat, Linked first."""
        ...

    def save_settings(self, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> SaveResult:
        """Typed secrets to the keyring (a new signing secret keeps the old one for the rotation), changed
        values to the settings file; ``settings_saved`` then applies them."""
        ...

    def settings_saved(self, changed: Collection[str], secrets_changed: Collection[str]) -> SettingsApplied:
        """Saved settings reach the running core (a new API key or URL: a new client)."""
        ...

    def save_rate(self, company_id: str, currency: str, rate: Decimal, valid_from: dt.date, *,
                  replacing: int | None = None) -> RateEntry: ...

    def delete_rate(self, company_id: str, rate_id: int) -> None: ...

    def recheck_missing_rates(self, company_id: str) -> Recheck: ...

    # -- receipts ----------------------------------------------------------------------
    def receipts(self, expense_id: int) -> list[ReceiptView]:
        """The expense's receipts, oldest first, with their upload state."""
        ...

    def attach_receipt(self, expense_id: int, path: str | Path) -> ReceiptView:
        """Keep the file (once per content) and list it on the expense; raises ReceiptRefused with the reason.
        A receipt of an expense already in the ledger is uploaded at once."""
        ...

    def detach_receipt(self, receipt_id: int) -> None: ...

    def retry_receipt_upload(self, receipt_id: int) -> None:
        """Upload a failed or refused receipt again, without pushing the expense again."""
        ...
