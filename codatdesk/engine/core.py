"""The core: one object that wires store, Codat client, listener, applier, pusher and
reconciliation. ``codatdesk serve`` runs it headless; the desktop window drives it.
It imports no Qt; it reports through ``core.bus`` (plain callbacks on core threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codatdesk import secrets, settings_actions
from codatdesk.amounts import NumberFormat
from codatdesk.codat import CodatClient
from codatdesk.core_api import (
    EDITABLE_STATUSES,
    RESTART_SETTINGS,
    RETRYABLE_STATUSES,
    CompanyChoice,
    ExpenseValues,
    ReceiptView,
    SettingsApplied,
)
from codatdesk.engine import (
    edits,
    expenses_config,
    expenses_route,
    expenses_update,
    read_models,
    reference,
)
from codatdesk.engine.applier import SELFTEST_EVENT, Applier
from codatdesk.engine.expenses_config import ExpensesConfig
from codatdesk.engine.gil import answer_waiting_threads_sooner
from codatdesk.engine.push_check import CheckedPush
from codatdesk.engine.pusher import PushBatch, PushEngine, PushProblem
from codatdesk.engine.reconcile import Reconciler
from codatdesk.engine.store_queries import StoreQueries
from codatdesk.events import (
    ConnectionChecked,
    EventBus,
    HealthEvent,
    HealthSnapshot,
    Notice,
    PushProgress,
    RateLimitChanged,
    WebhookArrived,
)
from codatdesk.importer import ImportReport, ensure_company, import_file
from codatdesk.logging_setup import register_secret
from codatdesk.receipts import attach as receipt_attach
from codatdesk.receipts.files import receipt_files_for
from codatdesk.receipts.uploads import ReceiptUploader
from codatdesk.secrets import WebhookCredentials
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus, Trigger
from codatdesk.store.db import bind_bus, session_scope
from codatdesk.store.history import Cause, change_status, expense_deleted
from codatdesk.store.models import Company, Expense, PushAttempt, utcnow
from codatdesk.store.retention import RetentionSweeper

if TYPE_CHECKING:
    from codatdesk.engine.rate_table import Recheck
    from codatdesk.team.change_feed import ChangeFeedListener
    from codatdesk.webhooks import WebhookListener
    from codatdesk.webhooks.intake_process import IntakeProcess

log = logging.getLogger(__name__)

__all__ = ["Core", "PushBatch", "PushProblem"]


class Core(StoreQueries):
    def __init__(
        self,
        settings: Settings,
        db: Engine,
        *,
        bus: EventBus | None = None,
        api_key: Callable[[], str] | None = None,
        webhook_credentials: Callable[[], WebhookCredentials] | None = None,
        client_factory: Callable[[], CodatClient] | None = None,
        listen: bool = True,
        intake_process: bool = False,
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus or EventBus()
        bind_bus(db, self.bus)  # what a write transaction registers is published when it commits
        self._api_key = api_key or (lambda: secrets.require(secrets.API_KEY))
        # The keyring is read once, then again only when a secret or the Settings change (or a
        # delivery fails to match, at most every 30 s): not three reads for every request.
        self._credential_cache = secrets.CachedWebhookCredentials() if webhook_credentials is None else None
        self._webhook_credentials = webhook_credentials or self._credential_cache
        if self._credential_cache is not None:
            settings.on_saved(self._credential_cache.invalidate)
        self._client_factory = client_factory
        self._client: CodatClient | None = None
        self._client_lock = threading.Lock()
        self.listen = listen
        # A team server on PostgreSQL: the listener and inbox in a process of their own (webhooks/intake_process).
        self.intake_process = intake_process
        self.listener: WebhookListener | IntakeProcess | None = None
        self.tunnel = None
        self.change_feed: ChangeFeedListener | None = None  # team mode: what other processes commit to the shared database
        self._started = False

        # The applier and the push engine need each other: the engine hands results to the applier's
        # queue, and the applier's follow-ups (HTTP, after its commit) run in the engine's pools.
        # Built in that order, then the follow-ups are connected: no callable names an object that
        # does not exist yet.
        self.applier = Applier(db, self.bus, on_reconnected=self._reconnected)
        self.pusher = PushEngine(
            db, self.bus, self.client,
            concurrency=settings.get("push.concurrency"),
            timeout_in_minutes=partial(settings.get, "push.timeout_in_minutes"),
            connection_for=self.connection_for,
            key_stored=self.applier.key_stored,
            submit_result=self.applier.submit_result,
            resume_chain=self.applier.resume_chain,
            reasons_unavailable=self.applier.reasons_unavailable,
            operation_gone=self.applier.operation_gone,
        )
        self.pusher.connection_replaced = self._connection_replaced
        self.applier.fetch_details = self.pusher.fetch_details
        self.applier.read_warnings_later = self.pusher.warnings.add
        self.applier.push_dependents = self.pusher.push_dependents
        self.applier.push_ended = self.pusher.push_ended
        # Receipts are uploaded once their expense is in the ledger (its own step, in the company's pool).
        self.receipt_files = receipt_files_for(db)
        self.receipt_uploads = ReceiptUploader(db, self.receipt_files, self.client, self.pusher.pool)
        self.stop_uploading_receipts = self.bus.subscribe(self.receipt_uploads.on_event)
        self.pusher.expenses.submit_results = self.applier.submit_expense_results
        self.applier.read_expense_sync = self.pusher.expenses.read_sync_soon
        self.reconciler = Reconciler(
            db, self.bus, self.client, self.pusher, self.applier.submit_result,
            interval=partial(self._seconds, "reconcile.interval_seconds"),
            threshold=partial(self._seconds, "reconcile.threshold_seconds"),
            check_connections=self.check_connections,
            resume_chains=self.applier.resume_chains,
            sweep_receipts=self.receipt_uploads.sweep,
        )
        self.retention = RetentionSweeper(db, partial(settings.get, "webhook.retention_days"),
                                          disposable_event_types=(SELFTEST_EVENT,))
        self.selftest_listeners: list[Callable[[str], None]] = []
        self._health = HealthSnapshot()
        self.bus.subscribe(self._health)
        self.bus.subscribe(self._on_event)

    def _seconds(self, key: str) -> float:
        return float(self.settings.get(key))

    def _reconnected(self, company_id: str) -> None:
        self.reconcile_now()

    def _on_event(self, event: object) -> None:
        # Rate-limit headers come with every Codat answer; the status bar hears of them per batch.
        if isinstance(event, PushProgress):
            self._report_rate_limit()

    def health_snapshot(self) -> list[HealthEvent]:
        """The newest health fact of each kind, for a view that starts after they were published."""
        return self._health.current()

    # -- Codat client --------------------------------------------------------------
    def client(self) -> CodatClient:
        with self._client_lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    key = self._api_key()
                    register_secret(key)
                    self._client = CodatClient(key, self.settings.get("codat.base_url"), on_wait=self._on_wait)
            return self._client

    def reset_client(self) -> None:
        """Forget the client (after the API key or base URL changed)."""
        with self._client_lock:
            old, self._client = self._client, None
        if old is not None:
            old.close()

    def _on_wait(self, reason: str, seconds: float) -> None:
        if reason == "rate limited":
            self.bus.publish(Notice("info", f"Codat asked us to slow down; continuing in {seconds:.0f} s.",
                                    topic="ratelimit"))
        self._report_rate_limit()

    def _report_rate_limit(self) -> None:
        client = self._client
        if client is not None and client.rate_limit.remaining is not None:
            self.bus.publish(RateLimitChanged(int(client.rate_limit.remaining), client.rate_limit.limit))

    # -- companies -------------------------------------------------------------------
    @property
    def company_id(self) -> str | None:
        return self.settings.get("codat.company_id")

    def set_company(self, company_id: str, connection_id: str | None = None, name: str | None = None) -> None:
        with session_scope(self.db) as session:
            company = ensure_company(session, company_id, name)
            if name:
                company.name = name
            if connection_id:
                company.connection_id = connection_id
            session.add(company)
        values = {"codat.company_id": company_id}
        if connection_id:
            values["codat.connection_id"] = connection_id
        self.settings.update(values)
        self._tag_for_webhooks(company_id)

    def served_company_ids(self) -> list[str]:
        """The Codat companies this app pushes for: their webhooks are asked for, others' dropped."""
        from codatdesk.importer import LOCAL_COMPANY_ID

        with Session(self.db) as session:
            ids = list(session.exec(select(Company.id).where(Company.connection_id.is_not(None))).all())
        if self.company_id and self.company_id not in ids:
            ids.append(self.company_id)
        return [c for c in ids if c != LOCAL_COMPANY_ID]

    def _registrar(self):
        from codatdesk.tunnel import WebhookRegistrar

        registrar = self.tunnel.registrar if self.tunnel is not None else WebhookRegistrar(self.client, self.bus)
        registrar.served_companies = self.served_company_ids
        return registrar

    def _tag_for_webhooks(self, company_id: str) -> None:
        """A newly served company gets this installation's tag, so the registered consumer receives its
        events (in the company's pool: never on the caller's thread). Before any registration: nothing."""
        registrar = self._registrar()
        if registrar.is_registered:
            self.pusher.pool(company_id).submit(registrar.tag_company, company_id)

    def connection_for(self, company_id: str) -> str | None:
        with Session(self.db) as session:
            company = session.get(Company, company_id)
        if company is not None and company.connection_id:
            return company.connection_id
        if company_id == self.company_id:
            return self.settings.get("codat.connection_id")
        return None

    def _connection_replaced(self, company_id: str, old: dict, new: dict) -> None:
        """Codat has a Linked accounting connection to the same ledger under a new id: push there
        from now on (the store and, for the chosen company, the settings), and say so."""
        from codatdesk.engine.connections import replaced_notice

        with session_scope(self.db) as session:
            company = ensure_company(session, company_id)
            company.connection_id = str(new["id"])
            session.add(company)
            name = company.name
        if company_id == self.company_id:
            self.settings.update({"codat.connection_id": str(new["id"])})
        log.info("connection of %s replaced: %s -> %s", company_id, old.get("id"), new.get("id"))
        self.bus.publish(Notice("warning", replaced_notice(name, old, new), topic="connection"))

    def check_connection(self, company_id: str | None = None) -> str:
        company_id = company_id or self.company_id
        if not company_id:
            return "not chosen"
        return self.pusher.verify_connection(company_id, self.connection_for(company_id))

    def check_connections(self) -> None:
        with Session(self.db) as session:
            companies = session.exec(select(Company.id).where(Company.connection_id.is_not(None))).all()
        if self.company_id and self.company_id not in companies:
            companies = [*companies, self.company_id]
        for company_id in companies:
            status = self.check_connection(company_id)
            self.bus.publish(ConnectionChecked(company_id, status))
            if status != "Linked":
                self.bus.publish(Notice("error", f"The accounting connection is {status}. Pushes are stopped "
                                                 "until it is reconnected.", topic="connection"))

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        answer_waiting_threads_sooner()  # its threads mostly wait on the network and must answer quickly
        self.applier.start()
        self.retention.start()
        from codatdesk.team.change_feed import listen_for_changes

        self.change_feed = listen_for_changes(self.db, self.bus)
        if self.listen:
            self._start_listener()
        # Its first run checks the connections, everything in progress and every waiting chain.
        self.reconciler.start()

    def _start_listener(self) -> None:
        from codatdesk.webhooks import Inbox, ListenerConfig, Verifier, WebhookListener

        s = self.settings
        recheck = self._credential_cache.recheck if self._credential_cache is not None else None
        verifier = Verifier.from_settings(s, self._webhook_credentials, recheck=recheck)  # refuses accept-anything
        if self.intake_process:
            from codatdesk.webhooks.intake_process import IntakeProcess

            self.listener = IntakeProcess(
                ListenerConfig.from_settings(s), self.db.url.render_as_string(hide_password=False),
                require_signature=verifier.require_signature, authorization=verifier.authorization,
                credentials=self._webhook_credentials, recheck=recheck, on_stored=self._on_stored, bus=self.bus)
        else:
            self.listener = WebhookListener(ListenerConfig.from_settings(s), verifier, Inbox(self.db),
                                            self._on_stored, self.bus)
        self.listener.start()
        from codatdesk.tunnel import TunnelStack

        self.tunnel = TunnelStack(s, self.listener.url, self.bus, self.client,
                                  webhook_credentials=self._webhook_credentials)
        self.tunnel.registrar.served_companies = self.served_company_ids
        self.selftest_listeners.append(self.tunnel.delivery_seen)
        self.tunnel.start()

    def _on_stored(self, result) -> None:
        if result.event_type == SELFTEST_EVENT:
            self._selftest_seen(result.delivery_id)  # measure the tunnel alone, not the applier's queue
        if result.is_new or result.verdict in ("pending", "parked"):
            self.applier.enqueue_delivery(result.row_id)
        self.bus.publish(WebhookArrived(utcnow()))

    def _selftest_seen(self, delivery_id: str) -> None:
        for listener in list(self.selftest_listeners):
            listener(delivery_id)

    @property
    def listener_url(self) -> str | None:
        return self.listener.url if self.listener is not None else None

    def register_webhook(self, url: str | None = None) -> dict:
        """Create (or re-create) Codat's webhook consumer for ``url`` (default: the tunnel's public URL)."""
        if url is None:
            if self.tunnel is None:
                raise RuntimeError("the listener is not running")
            self.tunnel.registrar.served_companies = self.served_company_ids
            return self.tunnel.register_webhook()
        return self._registrar().ensure_registered(url)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        # First end every Codat wait (backoff, Retry-After): the pools below are joined, and a
        # worker parked on a 429 for two minutes would keep the window from closing.
        client = self._client
        if client is not None:
            client.interrupt()
        if self.tunnel is not None:
            self.tunnel.stop()
        self.reconciler.stop()
        if self.listener is not None:
            self.listener.stop()
        self.retention.stop()
        if self.change_feed is not None:
            self.change_feed.stop()
        self.pusher.shutdown()
        self.applier.stop()
        self.reset_client()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self.applier.wait_idle(timeout)

    # -- actions -----------------------------------------------------------------------
    def check_pushable(self, expense_ids: list[int], *, again_anyway: bool = False) -> list[PushProblem]:
        """What would keep these expenses from being sent, before anything is sent. A company whose
        Codat lists were never read has them read first, so even a first push explains unknown
        suppliers, tax codes and payment accounts here rather than after the user pressed Push."""
        return list(self.check_push(expense_ids, again_anyway=again_anyway).problems)

    def check_push(self, expense_ids: list[int], *, again_anyway: bool = False) -> CheckedPush:
        """``check_pushable``'s answer as a token ``push`` can take back instead of checking again."""
        self._read_reference_data_once(list(expense_ids))
        # The rows say why too, once the dialog is closed.
        return self.pusher.check_for_push(list(expense_ids), again_anyway=again_anyway)

    def _read_reference_data_once(self, expense_ids: list[int]) -> None:
        from codatdesk.engine import currency as fx
        from codatdesk.importer import LOCAL_COMPANY_ID

        with Session(self.db) as session:
            companies = set(session.exec(select(Expense.company_id).where(Expense.id.in_(expense_ids))).all())
            unread = [c for c in companies if c != LOCAL_COMPANY_ID and self.connection_for(c)
                      and not (reference.has_cache(session, c) and fx.base_currency_read(session, c))]
        for company_id in unread:
            try:
                self.refresh_reference_data(company_id)
            except Exception:  # the push reads them again and says on each row why it could not
                log.warning("reading Codat's lists for %s before the check failed", company_id, exc_info=True)

    def push(self, expense_ids: list[int], *, user: str = "user", checked: CheckedPush | None = None) -> PushBatch:
        return self.pusher.push(list(expense_ids), Cause.user(user), checked=checked)

    def push_again_anyway(self, expense_ids: list[int], *, user: str = "user",
                          checked: CheckedPush | None = None) -> PushBatch:
        """Send outcome-unknown expenses again although Codat may have written them already (a possible
        duplicate): only after the user was told so and confirmed."""
        return self.pusher.push(list(expense_ids), Cause.user(user), again_anyway=True, checked=checked)

    def retry_failed(self, company_id: str | None = None, *, user: str = "user") -> PushBatch:
        """Push every failed expense again. Outcome-unknown ones stay: they may be in the ledger."""
        with Session(self.db) as session:
            query = select(Expense.id).where(Expense.status.in_(RETRYABLE_STATUSES))
            if company_id:
                query = query.where(Expense.company_id == company_id)
            ids = list(session.exec(query.order_by(Expense.id)).all())
        return self.push(ids, user=user)

    def reconcile_now(self) -> None:
        self.reconciler.run_soon(everything=True)

    def import_file(self, path: str | Path, company_id: str | None = None, *,
                    number_format: NumberFormat | None = None) -> ImportReport:
        from codatdesk.importer import LOCAL_COMPANY_ID

        return import_file(self.db, path, company_id or self.company_id or LOCAL_COMPANY_ID,
                           number_format=number_format)

    def refresh_reference_data(self, company_id: str | None = None) -> dict[str, int]:
        company_id = company_id or self.company_id
        if not company_id:
            raise ValueError("no company chosen")
        counts: dict[str, int] = self.pusher.call(company_id, reference.refresh, self.db, self.client(), company_id,
                                  self.connection_for(company_id))
        with Session(self.db) as session:
            on_expenses = expenses_route.is_expenses_route(session, company_id)
        if on_expenses:  # the Expenses route's checks read the mapping options: refreshed with the lists
            options = self.pusher.call(company_id, expenses_route.refresh_mapping_options, self.db, self.client(),
                                       company_id)
            counts["mappingOptions.accounts"] = len(options.get("accounts") or [])
        return counts

    def expenses_config(self, company_id: str | None = None) -> ExpensesConfig:
        """The company's Expenses configuration (default bank account, supplier, customer) as Codat has it."""
        company_id = company_id or self.company_id
        if not company_id:
            raise ValueError("no company chosen")
        config: ExpensesConfig = self.pusher.call(company_id, expenses_config.read_config, self.db, self.client(),
                                                  company_id)
        return config

    def set_expenses_config(self, company_id: str | None = None, *, bank_account: str | None = None,
                            supplier: str | None = None, customer: str | None = None) -> ExpensesConfig:
        """Set the defaults from Codat's lists (codes, names or ids; None keeps the current one), creating the
        company's partner expense connection first when it has none."""
        company_id = company_id or self.company_id
        if not company_id:
            raise ValueError("no company chosen")
        config: ExpensesConfig = self.pusher.call(company_id, expenses_config.set_config, self.db, self.client(),
                                                  company_id, bank_account, supplier, customer)
        return config

    def delete_expenses(self, expense_ids: list[int]) -> int:
        """Delete rows that were never pushed (anything pushed stays for the audit trail)."""
        from sqlalchemy import delete

        from codatdesk.store.models import ExpenseLine, ExpenseSyncItem, PushRequest, StatusChange

        deleted = 0
        with session_scope(self.db) as session:
            # Sent once on either route (a push attempt, an Expenses sync): kept for the audit trail.
            pushed = set(session.exec(select(PushAttempt.expense_id).where(
                col(PushAttempt.expense_id).in_(expense_ids))).all())
            pushed |= set(session.exec(select(ExpenseSyncItem.expense_id).where(
                col(ExpenseSyncItem.expense_id).in_(expense_ids))).all())
            for expense_id in expense_ids:
                expense = session.get(Expense, expense_id)
                if expense is None or expense.id in pushed or ExpenseStatus(expense.status) is not ExpenseStatus.NOT_PUSHED:
                    continue
                expense_deleted(session, expense, Cause.user())
                # What only this never-sent expense refers to goes with it (its lines, a refused team request,
                # its status history); receipts cascade in the schema.
                for table in (ExpenseLine, PushRequest, StatusChange):
                    session.execute(delete(table).where(col(table.expense_id) == expense_id))  # type: ignore[attr-defined]
                session.delete(expense)
                deleted += 1
        return deleted

    def add_expense(self, company_id: str, values: dict[str, Any]) -> int:
        return edits.add_expense(self.db, self.bus, company_id, values)

    def update_expense(self, expense_id: int, values: dict[str, Any], *, expected_version: int | None = None) -> None:
        """``expected_version``: the version the user opened; a later save by someone else raises
        ``edits.EditConflict`` (nothing saved)."""
        edits.update_expense(self.db, self.bus, expense_id, values, expected_version=expected_version)

    def can_update_in_ledger(self, expense_id: int) -> bool:
        """An edit of this row can be sent to the ledger as an update (Push complete on the Expenses route)."""
        with Session(self.db) as session:
            expense = session.get(Expense, expense_id)
            return expense is not None and expenses_update.can_update_in_ledger(session, expense)

    def update_in_ledger(self, expense_id: int, values: dict[str, Any]) -> str:
        """Send an edit of a row already in the ledger as Codat's update (Expenses route); the row goes Push in
        progress and its sync's result ends it. ``UpdateRefused``/``InvalidExpense``: nothing saved."""
        return expenses_update.update_in_ledger(self.pusher, expense_id, values)

    def set_mapping(self, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None:
        edits.set_mapping(self.db, company_id, kind, local_value, codat_id)

    def reset_expense(self, expense_id: int, *, user: str = "user") -> None:
        with session_scope(self.db) as session:
            expense = session.get(Expense, expense_id)
            change_status(session, expense, Trigger.RESET, Cause.user(user), detail="")

    # -- read models for the window (core_api.CoreAPI) ------------------------------------
    def companies_to_show(self) -> list[CompanyChoice]:
        return read_models.companies_to_show(self.db, self.company_id)

    def chosen_connection_id(self, company_id: str) -> str | None:
        return self.settings.get("codat.connection_id") if company_id == self.company_id else None

    def expense_values(self, expense_id: int) -> ExpenseValues | None:
        return read_models.expense_values(self.db, expense_id)

    def export_details(self, expense_ids: list[int]) -> dict[int, Any]:
        return read_models.export_details(self.db, expense_ids)

    def can_edit(self, status: ExpenseStatus) -> bool:
        return status in EDITABLE_STATUSES

    def _chosen_connections(self) -> dict[str, str]:
        chosen = self.settings.get("codat.connection_id")
        return {self.company_id: chosen} if self.company_id and chosen else {}

    def set_supplier_creation(self, company_id: str, allowed: bool) -> None:
        from codatdesk.engine.suppliers import set_supplier_creation

        set_supplier_creation(self.db, company_id, allowed)

    def can_retry(self, status: ExpenseStatus) -> bool:
        return status in RETRYABLE_STATUSES

    # -- the settings dialog's questions (settings_actions: the wizard asks the same without a core) --
    def check_api_key(self, base_url: str, api_key: str | None) -> settings_actions.CheckResult:
        return settings_actions.check_api_key(base_url, api_key)

    def list_codat_connections(self, base_url: str, api_key: str | None,
                               company_id: str) -> settings_actions.CheckResult:
        return settings_actions.list_codat_connections(base_url, api_key, company_id)

    def save_settings(self, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> settings_actions.SaveResult:
        return settings_actions.save_settings(self.settings, values, typed_secrets)

    def settings_saved(self, changed: Collection[str], secrets_changed: Collection[str]) -> SettingsApplied:
        if secrets.API_KEY in secrets_changed or "codat.base_url" in changed:
            self.reset_client()  # the next request uses the new key or URL
        return SettingsApplied(frozenset(set(changed) & RESTART_SETTINGS))

    def recheck_missing_rates(self, company_id: str) -> Recheck:
        from codatdesk.engine import rate_table

        return rate_table.recheck_missing_rates(self.db, self.pusher, company_id)

    # -- receipts ------------------------------------------------------------------------
    def receipts(self, expense_id: int) -> list[ReceiptView]:
        return receipt_attach.receipts_of(self.db, self.receipt_files, expense_id)

    def attach_receipt(self, expense_id: int, path: str | Path) -> ReceiptView:
        view = receipt_attach.attach(self.db, self.receipt_files, expense_id, path)
        if view.upload_status == "pending":
            with Session(self.db) as session:
                expense = session.get(Expense, expense_id)
                if expense is not None and ExpenseStatus(expense.status) is ExpenseStatus.COMPLETE:
                    self.receipt_uploads.upload_soon(expense.company_id, expense_id)
        return view

    def detach_receipt(self, receipt_id: int) -> None:
        receipt_attach.detach(self.db, self.receipt_files, receipt_id)

    def retry_receipt_upload(self, receipt_id: int) -> None:
        self.receipt_uploads.retry(receipt_id)


def open_and_start(settings: Settings, company_name: str | None = None) -> tuple[Core, Callable[[], None]]:
    """The desktop's core: the user's database opened, the chosen company recorded, started.
    Returns it with what closes it (stop, then release the database)."""
    from codatdesk.team.desktop import core_for
    from codatdesk.team.schema import open_store

    db = open_store(settings, upgrades=False)  # a team's database is upgraded by its server only (docs/team.md)
    core = core_for(settings, db)  # a shared PostgreSQL: a desktop that asks the team's server to push
    company_id = settings.get("codat.company_id")
    if company_id:
        try:
            core.set_company(company_id, settings.get("codat.connection_id"), name=company_name)
        except Exception:
            log.exception("could not record the chosen company")
    core.start()

    def close() -> None:
        core.stop()
        db.dispose()

    return core, close
