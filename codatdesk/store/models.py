"""The tables. The database is the source of truth; the UI mirrors it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.attributes import get_history
from sqlmodel import Field, Session, SQLModel

from codatdesk.machines import AttemptOutcome, ConnectionStatus, OperationStatus, Verdict
from codatdesk.states import ExpenseStatus
from codatdesk.store.types import Money, Rate


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Stored as its display value in a VARCHAR (no native enum type: adding a status
# later must not need a PostgreSQL ALTER TYPE).
_STATUS_TYPE = SAEnum(
    ExpenseStatus, native_enum=False, create_constraint=False, length=20,
    values_callable=lambda enum: [member.value for member in enum],
)


class Company(SQLModel, table=True):
    __tablename__ = "company"

    id: str = Field(primary_key=True, max_length=64)  # Codat company id
    name: str = Field(max_length=200)
    connection_id: str | None = Field(default=None, max_length=64)  # the accounting connection we push to
    # Codat's CompanyInfo.baseCurrency (GET /companies/{id}/data/info), read with the reference data.
    base_currency: str | None = Field(default=None, max_length=3)
    base_currency_read_at: dt.datetime | None = None
    # The user allows codatdesk to create a supplier the ledger lacks (a dependent push before the expense).
    create_suppliers: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # How this company's expenses reach Codat: "directCosts" (Accounting API) or "expenses" (Sync for
    # Expenses). codatdesk/routes.py owns the values and what each route accepts.
    push_route: str = Field(default="directCosts", sa_column=Column(
        String(20), nullable=False, server_default="directCosts"))
    created_at: dt.datetime = Field(default_factory=utcnow)


class Connection(SQLModel, table=True):
    __tablename__ = "connection"

    id: str = Field(primary_key=True, max_length=64)  # Codat dataConnection id
    company_id: str = Field(foreign_key="company.id", index=True, max_length=64)
    platform_name: str | None = Field(default=None, max_length=100)
    integration_key: str | None = Field(default=None, max_length=20)
    status: str = Field(default=ConnectionStatus.PENDING_AUTH, max_length=20)  # machines.ConnectionStatus
    link_url: str | None = Field(default=None, sa_column=Column(Text))
    errors_json: str | None = Field(default=None, sa_column=Column(Text))  # dataConnectionErrors
    # When the newest fact applied was observed (a webhook's generatedDate, a GET's start): older facts are
    # ignored (store/connections.py, the one writer).
    last_event_at: dt.datetime | None = None
    checked_at: dt.datetime | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Expense(SQLModel, table=True):
    __tablename__ = "expense"
    __table_args__ = (UniqueConstraint("company_id", "source_key", name="uq_expense_source"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(foreign_key="company.id", index=True, max_length=64)
    expense_date: dt.date
    supplier_name: str = Field(max_length=200)
    supplier_id: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    account_code: str = Field(max_length=40)  # nominal code of the expense account
    account_name: str = Field(default="", max_length=200)
    account_id: str | None = Field(default=None, max_length=64)  # Codat id once known
    bank_account_code: str = Field(default="", max_length=40)  # the account the money left from
    bank_account_id: str | None = Field(default=None, max_length=64)
    tax_code: str = Field(default="", max_length=40)
    tax_rate_id: str | None = Field(default=None, max_length=64)
    net: Decimal = Field(sa_column=Column(Money, nullable=False))
    tax: Decimal = Field(sa_column=Column(Money, nullable=False))
    total: Decimal = Field(sa_column=Column(Money, nullable=False))
    currency: str = Field(max_length=3)
    # Codat's currencyRate: units of the company's base currency for one unit of ``currency``
    # (base amount = amount x rate). None: take it from the company's rate table when pushing.
    currency_rate: Decimal | None = Field(default=None, sa_column=Column(Rate, nullable=True))
    reference: str = Field(default="", max_length=100)
    # How many expense_line rows hold this expense's lines. 0: the columns above are its only line (every
    # expense before 0007, and any single line without tracking). Otherwise the rows are its lines, net and
    # tax are their sums and account/tax code copy line 1 (docs/architecture.md, "Split lines").
    line_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # An employee claim (a reimbursable expense): the employee is a supplier in the ledger.
    is_claim: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    employee: str = Field(default="", sa_column=Column(String(200), nullable=False, server_default=text("''")))
    # Codat's expense transaction type when the expense names one (Payment, Refund, Reward, Chargeback);
    # None: its sign says (codatdesk/transaction_types.py). Only the Expenses route takes Reward/Chargeback.
    transaction_type: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    # The Expenses route's transaction id (a uuid, Codat's idempotency key there): set at the first push on that
    # route and never changed, so a resend is Codat's duplicate, never a second booking (engine/expenses_route.py).
    transaction_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True, unique=True,
                                                                       index=True))
    status: ExpenseStatus = Field(
        default=ExpenseStatus.NOT_PUSHED, sa_column=Column(_STATUS_TYPE, nullable=False, index=True)
    )
    push_operation_key: str | None = Field(default=None, max_length=64, index=True)
    waiting_on_key: str | None = Field(default=None, max_length=64, index=True)  # prerequisite push
    status_detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_key: str = Field(max_length=64)  # import fingerprint: re-importing a file adds nothing
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    # Bumped by every write (``_bump_expense_versions``): an edit names the version its user saw, and a
    # save over another's change is refused instead of overwriting it (team mode, engine/edits.py).
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default=text("1")))
    updated_by: str | None = Field(default=None, max_length=100)  # who edited its fields last (None: unknown)


class ExpenseLine(SQLModel, table=True):
    """One line of an expense with several lines or with tracking (``Expense.line_count`` says whether it has any)."""

    __tablename__ = "expense_line"
    __table_args__ = (UniqueConstraint("expense_id", "position", name="uq_expense_line_position"),)

    id: int | None = Field(default=None, primary_key=True)
    expense_id: int = Field(foreign_key="expense.id", index=True)
    position: int  # 1, 2, ... in the order the lines were entered
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    account_code: str = Field(max_length=40)
    account_id: str | None = Field(default=None, max_length=64)
    tax_code: str = Field(default="", max_length=40)
    tax_rate_id: str | None = Field(default=None, max_length=64)
    net: Decimal = Field(sa_column=Column(Money, nullable=False))
    tax: Decimal = Field(sa_column=Column(Money, nullable=False))
    # The line's tracking categories as the user gave them (ids or names), a JSON list of strings:
    # always read and written with the line, never queried by category, so a child table would be a
    # join for nothing.
    tracking_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class PushOperation(SQLModel, table=True):
    """One push (write request) we sent to Codat, keyed by Codat's pushOperationKey."""

    __tablename__ = "push_operation"

    key: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(index=True, max_length=64)
    connection_id: str = Field(max_length=64)
    data_type: str = Field(max_length=40)  # directCosts | chartOfAccounts | suppliers
    expense_id: int | None = Field(default=None, foreign_key="expense.id", index=True)
    creates_code: str | None = Field(default=None, max_length=200)  # for prerequisites: the account code/supplier name it creates
    status: str = Field(default=OperationStatus.PENDING, max_length=20, index=True)  # machines.OperationStatus
    requested_at: dt.datetime = Field(default_factory=utcnow)
    completed_at: dt.datetime | None = None
    record_id: str | None = Field(default=None, max_length=100)  # id of what Codat created
    status_code: int | None = None
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    validation_errors_json: str | None = Field(default=None, sa_column=Column(Text))
    validation_warnings_json: str | None = Field(default=None, sa_column=Column(Text))
    last_checked_at: dt.datetime | None = None

    @property
    def has_reasons(self) -> bool:
        """Codat's own account of this operation (GET /push/{key}) is stored; a write webhook carries none.
        The same test in SQL: :func:`push_operation_has_reasons` (keep the two together)."""
        return self.status_code is not None or bool(self.error_message) or bool(self.validation_errors_json)


def push_operation_has_reasons():
    """``PushOperation.has_reasons`` as a SQL condition (a SQLModel table cannot hold a hybrid property)."""
    from sqlalchemy import func, or_

    return or_(PushOperation.status_code.is_not(None), func.coalesce(PushOperation.error_message, "") != "",
               func.coalesce(PushOperation.validation_errors_json, "") != "")


class PushAttempt(SQLModel, table=True):
    """Written before a push POST leaves, with the POST's ``Idempotency-Key`` and exact body.

    A row whose ``push_operation_key`` is still empty after the POST is an attempt of
    unknown outcome. While Codat keeps the first answer under the key (90 minutes), the
    engine sends the same body with the same key again and takes the answer; after that
    (or for attempts stored without a key) it lists Codat's push operations instead.
    """

    __tablename__ = "push_attempt"

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(index=True, max_length=64)
    data_type: str = Field(max_length=40)
    expense_id: int | None = Field(default=None, index=True)
    creates_code: str | None = Field(default=None, max_length=200)
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    outcome: str = Field(default=AttemptOutcome.SENDING, max_length=20)  # machines.AttemptOutcome
    push_operation_key: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=64, index=True)  # Codat's Idempotency-Key header
    request_json: str | None = Field(default=None, sa_column=Column(Text))  # the exact body sent under that key
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class WebhookDelivery(SQLModel, table=True):
    """The durable inbox: every verified delivery, stored before we answer 2xx."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_verdict", "verdict"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(unique=True, max_length=200)  # webhook-id, legacy AlertId, or a body hash
    received_at: dt.datetime = Field(default_factory=utcnow)
    event_type: str = Field(default="", max_length=200)
    headers_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # never Authorization
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    verdict: str = Field(default=Verdict.PENDING, max_length=20)  # machines.Verdict
    verdict_detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    applied_at: dt.datetime | None = None
    times_received: int = 1
    company_id: str | None = Field(default=None, max_length=64)
    push_operation_key: str | None = Field(default=None, max_length=64, index=True)
    expense_id: int | None = Field(default=None, index=True)


class StatusChange(SQLModel, table=True):
    """Status history: one row per change of an expense's status."""

    __tablename__ = "status_change"

    id: int | None = Field(default=None, primary_key=True)
    expense_id: int = Field(foreign_key="expense.id", index=True)
    from_status: str = Field(max_length=20)
    to_status: str = Field(max_length=20)
    at: dt.datetime = Field(default_factory=utcnow)
    trigger: str = Field(max_length=40)
    cause_kind: str = Field(max_length=20)  # webhook|reconciliation|user|engine
    cause_ref: str = Field(default="", max_length=200)  # delivery id, push key, user name
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Who: the named user of a user cause, else the writer's identity (database role in team mode,
    # OS user otherwise; store/actor.py). None: written before schema 0009.
    actor: str | None = Field(default=None, max_length=100)


class PushRequest(SQLModel, table=True):
    """Team mode: a desktop asks the team's server to push one expense (team/requests.py).

    queued -> claimed (by one server, ``SELECT ... FOR UPDATE SKIP LOCKED``) -> done | refused. A claim
    whose server lost the leader lock is taken over; the push attempt machinery keeps the POST at most once.
    """

    __tablename__ = "push_request"
    __table_args__ = (Index("ix_push_request_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_key: str = Field(max_length=64, index=True)  # one desktop request: its rows are pushed together
    expense_id: int = Field(foreign_key="expense.id", index=True)
    company_id: str = Field(max_length=64)
    again_anyway: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    requested_by: str = Field(max_length=100)
    requested_at: dt.datetime = Field(default_factory=utcnow)
    state: str = Field(default="queued", max_length=20)  # queued|claimed|done|refused
    claimed_by: str | None = Field(default=None, max_length=100)  # server instance id
    claimed_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ReferenceRecord(SQLModel, table=True):
    """Codat's accounts, bank accounts, suppliers and tax rates, cached per company."""

    __tablename__ = "reference_record"
    __table_args__ = (UniqueConstraint("company_id", "data_type", "codat_id", name="uq_reference_record"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(index=True, max_length=64)
    data_type: str = Field(max_length=40)  # accounts|bankAccounts|suppliers|taxRates
    codat_id: str = Field(max_length=100)
    code: str = Field(default="", max_length=100)  # nominal code / tax code
    name: str = Field(default="", max_length=200)
    extra_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    fetched_at: dt.datetime = Field(default_factory=utcnow)


class Mapping(SQLModel, table=True):
    """A user's or the matcher's decision: this local value means that Codat record."""

    __tablename__ = "mapping"
    __table_args__ = (UniqueConstraint("company_id", "kind", "local_value", name="uq_mapping"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=20)  # account|bankAccount|supplier|taxRate
    local_value: str = Field(max_length=200)
    codat_id: str = Field(max_length=100)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class CurrencyRate(SQLModel, table=True):
    """A rate the user keeps for a company: from ``valid_from`` on, one ``currency`` unit is ``rate``
    units of the company's base currency (Codat's currencyRate convention), until a later entry."""

    __tablename__ = "currency_rate"
    __table_args__ = (UniqueConstraint("company_id", "currency", "valid_from", name="uq_currency_rate"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(index=True, max_length=64)
    currency: str = Field(max_length=3)
    rate: Decimal = Field(sa_column=Column(Rate, nullable=False))
    valid_from: dt.date
    updated_at: dt.datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=100)  # who set it last (None: unknown)


class CreateModel(SQLModel, table=True):
    """An integration's create model (Codat's PushOption tree, ``GET .../options/{dataType}``) per
    connection: what a push of that data type must carry. ``model_json`` None: the integration does
    not support creating that data type (Codat answered 404)."""

    __tablename__ = "create_model"
    __table_args__ = (UniqueConstraint("company_id", "connection_id", "data_type", name="uq_create_model"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(index=True, max_length=64)
    connection_id: str = Field(max_length=64)
    data_type: str = Field(max_length=40)  # directCosts|chartOfAccounts|suppliers
    model_json: str | None = Field(default=None, sa_column=Column(Text))
    fetched_at: dt.datetime = Field(default_factory=utcnow)


class Receipt(SQLModel, table=True):
    """A receipt file attached to an expense. The bytes live in the data folder under their sha256
    (``receipts/files.py``); this row says whose it is and how its upload to the ledger went
    (``receipts/uploads.py`` is the one writer of the upload columns)."""

    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("expense_id", "sha256", name="uq_receipt_file"),)

    id: int | None = Field(default=None, primary_key=True)
    expense_id: int = Field(foreign_key="expense.id", index=True, ondelete="CASCADE")
    sha256: str = Field(max_length=64, index=True)
    file_name: str = Field(max_length=255)  # as the user named it
    media_type: str = Field(max_length=100)  # sniffed from the bytes
    size: int
    added_at: dt.datetime = Field(default_factory=utcnow)
    upload_status: str = Field(default="pending", max_length=20)  # receipts.uploads.UploadStatus
    upload_detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    upload_key: str | None = Field(default=None, max_length=64)  # Idempotency-Key of the upload under way
    upload_started_at: dt.datetime | None = None
    remote_id: str | None = Field(default=None, max_length=100)  # Codat's attachment id
    uploaded_at: dt.datetime | None = None


class ReceiptContent(SQLModel, table=True):
    """A receipt's bytes in a team's shared database (team mode): the server uploads what a desktop
    attached, and every desktop can show it. One person's SQLite keeps them in the data folder only
    (``receipts/files.py``); the table stays empty there."""

    __tablename__ = "receipt_content"

    sha256: str = Field(primary_key=True, max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    added_at: dt.datetime = Field(default_factory=utcnow)


class ChangeLogEntry(SQLModel, table=True):
    """One committed change (the event the core published), for the other processes on a shared
    database: team mode's change feed (codatdesk/team/change_feed.py). ``seq`` grows in commit order."""

    __tablename__ = "change_log"

    seq: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True))
    at: dt.datetime = Field(default_factory=utcnow, index=True)
    origin: str = Field(max_length=40)  # the engine that wrote it: its own listener skips it
    kind: str = Field(max_length=40)  # the event's class name
    body: str = Field(sa_column=Column(Text, nullable=False))  # the event's fields as JSON (ids and statuses)


class ExpenseSyncItem(SQLModel, table=True):
    """One expense sent in one Sync for Expenses sync (``POST .../expense-transactions``), and what Codat said of
    it. Not a ``PushOperation``: a sync has no push operation key, and reconciliation asks Codat about a sync
    by its syncId (``engine/expenses_route.py``)."""

    __tablename__ = "expense_sync_item"
    __table_args__ = (UniqueConstraint("sync_id", "transaction_id", name="uq_expense_sync_item"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(max_length=64)
    sync_id: str = Field(max_length=64, index=True)
    transaction_id: str = Field(max_length=36)
    expense_id: int = Field(foreign_key="expense.id", index=True)
    reimbursable: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # Pending, then Codat's Transaction.status: Completed | ValidationError | PushError (Unknown while unread)
    status: str = Field(default="Pending", max_length=20, index=True)
    message: str | None = Field(default=None, sa_column=Column(Text))
    requested_at: dt.datetime = Field(default_factory=utcnow)
    completed_at: dt.datetime | None = None


# What a person edits (``EDITED_FIELDS``, engine/edits.py), and the status: a write of any of them bumps the version, whoever
# makes it, so a save from an older view is refused. The engine's own notes (the status' explanation, Codat's
# ids, timestamps) do not: Codat's reasons arriving while someone edits the failed row are no conflict.
EDITED_FIELDS = ("expense_date", "supplier_name", "description", "account_code", "account_name", "bank_account_code",
                 "tax_code", "net", "tax", "total", "currency", "currency_rate", "reference", "is_claim", "employee",
                 "transaction_type")
VERSIONED_COLUMNS = (*EDITED_FIELDS, "status", "company_id")
_VERSIONED = frozenset(VERSIONED_COLUMNS)


@event.listens_for(Session, "before_flush")
def _bump_expense_versions(session: Session, _context: object, _instances: object) -> None:
    """A write of an expense's edited columns or its status bumps its version, whoever writes it (an edit of
    its lines alone bumps it in ``engine/edits.apply_edit``)."""
    for obj in session.dirty:
        if not isinstance(obj, Expense):
            continue
        # Only attributes set since the load can have changed (committed_state keeps their loaded values): a
        # webhook storm's flushes look at one or two of them, not at every versioned column's history (nor build
        # the state's view of all its attributes, ``attrs``, which cost a sixth of such a flush).
        touched = sa_inspect(obj).committed_state.keys()
        if "version" in touched and get_history(obj, "version").has_changes():
            continue  # bumped by its writer already
        if any(get_history(obj, name).has_changes() for name in _VERSIONED if name in touched):
            obj.version = (obj.version or 0) + 1
