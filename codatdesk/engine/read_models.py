"""Queries the window reads through ``CoreAPI`` (one place, so the real core and the test double
``tests/ui/fake_core.py`` answer alike). Each returns frozen read models of plain values (Decimal
money, dates), never a SQLModel row: a view cannot lazy-load, write, or decode what the store encodes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, or_, select

from codatdesk.core_api import (
    CompanyChoice,
    ConnectionInfo,
    DeliveryRecord,
    ExpenseDetails,
    ExpenseRecord,
    ExpenseValues,
    HistoryEntry,
    OperationRecord,
)
from codatdesk.engine import edits
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import read_session
from codatdesk.store.expense_rows import ExpenseRow, fetch_company, fetch_ids
from codatdesk.store.lines import ExportDetails, lines_of
from codatdesk.store.lines import export_details as _export_details
from codatdesk.store.models import (
    Company,
    Connection,
    Expense,
    PushOperation,
    StatusChange,
    WebhookDelivery,
)

MAX_DETAIL_DELIVERIES = 200  # the details pane's webhook list: enough to see a retry storm, not a page of noise
_IN_CHUNK = 500


def companies_to_show(db: Engine, chosen: str | None) -> list[CompanyChoice]:
    """Companies with expenses, and the chosen one, by name."""
    with read_session(db) as session:
        with_expenses = set(session.exec(select(Expense.company_id).distinct()).all())
        return [CompanyChoice(c.id, c.name, c.push_route) for c in session.exec(select(Company).order_by(Company.name))
                if c.id in with_expenses or c.id == chosen]


def export_details(db: Engine, expense_ids: list[int]) -> dict[int, ExportDetails]:
    """Lines, claim and employee of the expenses that have them, for an export."""
    with read_session(db) as session:
        return _export_details(session, expense_ids)


def expense_values(db: Engine, expense_id: int) -> ExpenseValues | None:
    """One expense's editable fields, for the expense dialog."""
    with read_session(db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            return None
        lines = tuple(lines_of(session, expense)) if expense.line_count else ()
        return ExpenseValues(id=expense_id, company_id=expense.company_id, lines=lines,
                             version=expense.version, updated_by=expense.updated_by,
                             **{name: getattr(expense, name) for name in edits.FIELDS})


# -- the expenses table -----------------------------------------------------------------------

def expense_rows(db: Engine, company_id: str | None) -> list[ExpenseRow]:
    """The table's rows: one Core query, no ORM (100,000 rows load in well under a second)."""
    return fetch_company(db, company_id)


def expense_rows_by_id(db: Engine, expense_ids: list[int]) -> dict[int, ExpenseRow]:
    return fetch_ids(db, expense_ids)


# -- the details pane -------------------------------------------------------------------------

def _expense_record(e: Expense) -> ExpenseRecord:
    return ExpenseRecord(
        id=e.id or 0, company_id=e.company_id, status=ExpenseStatus(e.status), status_detail=e.status_detail or "",
        expense_date=e.expense_date, supplier_name=e.supplier_name, description=e.description,
        account_code=e.account_code, account_name=e.account_name, bank_account_code=e.bank_account_code,
        tax_code=e.tax_code, net=e.net, tax=e.tax, total=e.total, currency=e.currency, reference=e.reference,
        push_operation_key=e.push_operation_key, waiting_on_key=e.waiting_on_key, updated_at=e.updated_at,
        is_claim=bool(e.is_claim), employee=e.employee or "")


def _operation_record(op: PushOperation) -> OperationRecord:
    return OperationRecord(
        key=op.key, expense_id=op.expense_id, data_type=op.data_type, creates_code=op.creates_code, status=op.status,
        requested_at=op.requested_at, completed_at=op.completed_at, record_id=op.record_id,
        status_code=op.status_code, error_message=op.error_message,
        validation_errors_json=op.validation_errors_json, validation_warnings_json=op.validation_warnings_json,
        has_reasons=op.has_reasons)


def _history_entry(h: StatusChange) -> HistoryEntry:
    return HistoryEntry(h.at, h.from_status, h.to_status, h.trigger, h.detail, h.cause_kind, h.cause_ref, h.actor)


def _delivery_record(d: WebhookDelivery) -> DeliveryRecord:
    return DeliveryRecord(d.id or 0, d.delivery_id, d.received_at, d.event_type, d.verdict, d.verdict_detail or "",
                          d.expense_id)


def expense_details(db: Engine, expense_id: int) -> ExpenseDetails | None:
    """The expense, its push operations (its own and the prerequisite it waits on), its history and
    the webhooks about it, in one read transaction."""
    with read_session(db) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            return None
        company = session.get(Company, expense.company_id)
        operations = list(session.exec(
            select(PushOperation).where(or_(
                PushOperation.expense_id == expense_id,
                PushOperation.key == (expense.push_operation_key or ""),
                PushOperation.key == (expense.waiting_on_key or ""),
            )).order_by(col(PushOperation.requested_at).desc())).all())
        keys = {op.key for op in operations} | {k for k in (expense.push_operation_key, expense.waiting_on_key) if k}
        history = session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)
                               .order_by(col(StatusChange.at), col(StatusChange.id))).all()
        condition = col(WebhookDelivery.expense_id) == expense_id
        if keys:
            condition = or_(condition, col(WebhookDelivery.push_operation_key).in_(keys))
        deliveries = session.exec(select(WebhookDelivery).where(condition)
                                  .order_by(col(WebhookDelivery.received_at).desc())
                                  .limit(MAX_DETAIL_DELIVERIES)).all()
        lines = tuple(lines_of(session, expense)) if expense.line_count else ()
        return ExpenseDetails(_expense_record(expense), company.name if company else expense.company_id,
                              tuple(map(_operation_record, operations)), tuple(map(_history_entry, history)),
                              tuple(map(_delivery_record, deliveries)), lines,
                              company.push_route if company else "directCosts")


# -- webhook activity -------------------------------------------------------------------------

def deliveries(db: Engine, *, after_id: int = 0, inbox_ids: Collection[int] = (),
               limit: int = 2000) -> list[DeliveryRecord]:
    """The newest ``limit`` stored deliveries above inbox id ``after_id``, plus those in ``inbox_ids``,
    oldest first, each with its expense's words (an outer join: one query)."""
    inbox_id = col(WebhookDelivery.id)
    columns = (inbox_id, col(WebhookDelivery.delivery_id), col(WebhookDelivery.received_at),
               col(WebhookDelivery.event_type), col(WebhookDelivery.verdict), col(WebhookDelivery.verdict_detail),
               col(WebhookDelivery.expense_id), col(Expense.supplier_name), col(Expense.expense_date),
               col(Expense.total), col(Expense.currency))

    def query() -> Any:
        return sa.select(*columns).outerjoin(Expense, col(Expense.id) == col(WebhookDelivery.expense_id))

    with read_session(db) as session:
        records = list(session.execute(query().where(inbox_id > after_id)
                                       .order_by(inbox_id.desc()).limit(limit)).all())
        again = sorted(set(inbox_ids))
        for start in range(0, len(again), _IN_CHUNK):
            records += session.execute(query().where(inbox_id.in_(again[start:start + _IN_CHUNK]))).all()
    records.sort(key=lambda record: record[0])  # oldest first: the view appends in arrival order
    return [DeliveryRecord(inbox_id, delivery_id, at, event, verdict, detail or "", expense_id,
                           supplier, date, total, currency)
            for inbox_id, delivery_id, at, event, verdict, detail, expense_id, supplier, date, total, currency
            in records]


def dropped_delivery_count(db: Engine) -> int:
    """Deliveries dropped because they were for a company this app does not serve."""
    from codatdesk.webhooks.scope import dropped_count

    with read_session(db) as session:
        return dropped_count(session)


# -- connections ------------------------------------------------------------------------------

def _errors_text(raw: str | None) -> str:
    import json

    if not raw:
        return ""
    try:
        items = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(items, list):
        return "; ".join(str(i.get("errorMessage") or i.get("message") or i) if isinstance(i, dict) else str(i)
                         for i in items)
    return str(items)


def connections(db: Engine, chosen_for: dict[str, str]) -> list[ConnectionInfo]:
    """Every known connection, plus a row for each company whose chosen connection we have not seen yet.
    ``chosen_for``: company id -> the connection Settings chose (the store's choice comes first)."""
    with read_session(db) as session:
        companies = {c.id: (c.name, c.connection_id) for c in session.exec(select(Company))}
        rows = [(c.company_id, c.id, c.platform_name or c.integration_key or "", c.status, c.link_url,
                 c.checked_at, c.errors_json)
                for c in session.exec(select(Connection).order_by(col(Connection.company_id), col(Connection.id)))]
    infos = []
    seen = set()
    for company_id, connection_id, platform, status, link_url, checked_at, errors_json in rows:
        name, stored_choice = companies.get(company_id, (company_id, None))
        chosen = stored_choice or chosen_for.get(company_id)
        infos.append(ConnectionInfo(company_id, name, connection_id, platform, status, link_url, checked_at,
                                    _errors_text(errors_json), chosen == connection_id))
        seen.add((company_id, connection_id))
    for company_id, (name, stored_choice) in companies.items():
        chosen = stored_choice or chosen_for.get(company_id)
        if chosen and (company_id, chosen) not in seen:
            infos.append(ConnectionInfo(company_id, name, chosen, "", "not checked yet", None, None, "", True))
    return infos
