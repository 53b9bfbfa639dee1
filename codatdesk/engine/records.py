"""What the operator reads back: an expense's status history and the webhook inbox's verdicts.

Read-only views for ``codatdesk history`` and ``codatdesk deliveries``; the JSON shapes
are part of the command line's documented output (README).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from codatdesk.store.models import Expense, StatusChange, WebhookDelivery

# The inbox's verdicts and what each means to someone reading them (the activity view says the same).
VERDICTS: dict[str, str] = {
    "pending": "stored; being applied",
    "applied": "changed the expense's status",
    "parked": "for a push whose key is not stored yet; applied once it is",
    "duplicate": "received before (Codat retried); nothing changed",
    "stale": "older than what is already known, or for a replaced push; nothing changed",
    "ignored": "an event type codatdesk does not act on",
    "unusable": "verified but could not be read or matched to anything",
    "dropped": "for a Codat company this installation does not serve; nothing changed",
}
# Refused deliveries (bad signature or credentials) are never stored, by design: the log has them.
NOT_STORED = {"rejected": "refused before storing (signature or credentials; 401/400): never stored, "
                          "see the log lines 'webhook rejected' in the data folder's logs/codatdesk.log"}

_WHO = {"webhook": "Codat webhook", "reconciliation": "reconciliation (codatdesk asked Codat)",
        "user": "user", "engine": "codatdesk"}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # stored as naive UTC
    return value.isoformat(timespec="seconds")


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    from_status: str
    to_status: str
    trigger: str
    why: str
    who: str
    cause_kind: str
    cause_ref: str
    event_type: str | None  # the webhook's event type, when a delivery caused the change
    actor: str | None = None  # the person (or server role) it was recorded for; None before schema 0009


@dataclass(frozen=True)
class ExpenseHistory:
    expense_id: int
    supplier: str
    date: str
    total: str
    currency: str
    status: str
    status_detail: str
    changes: list[HistoryEntry]

    def to_json(self) -> dict:
        return asdict(self)


def expense_history(engine: Engine, expense_id: int) -> ExpenseHistory | None:
    with Session(engine) as session:
        expense = session.get(Expense, expense_id)
        if expense is None:
            return None
        rows = session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)
                            .order_by(StatusChange.at, StatusChange.id)).all()
        delivery_ids = {r.cause_ref for r in rows if r.cause_kind == "webhook" and r.cause_ref}
        found = session.exec(select(WebhookDelivery.delivery_id, WebhookDelivery.event_type)
                             .where(WebhookDelivery.delivery_id.in_(delivery_ids))).all() if delivery_ids else []
        event_types = dict(found)
        changes = [HistoryEntry(
            at=_iso(r.at) or "", from_status=r.from_status, to_status=r.to_status, trigger=r.trigger,
            why=r.detail, who=_WHO.get(r.cause_kind, r.cause_kind) + (
                f" {r.cause_ref}" if r.cause_kind == "user" and r.cause_ref not in ("", "user") else ""),
            cause_kind=r.cause_kind, cause_ref=r.cause_ref,
            event_type=event_types.get(r.cause_ref) if r.cause_kind == "webhook" else None,
            actor=r.actor) for r in rows]
        return ExpenseHistory(
            expense_id=expense.id, supplier=expense.supplier_name, date=expense.expense_date.isoformat(),
            total=format(expense.total, "f"), currency=expense.currency, status=expense.status.value,
            status_detail=expense.status_detail, changes=changes)


@dataclass(frozen=True)
class DeliveryEntry:
    delivery_id: str
    received_at: str
    event_type: str
    verdict: str
    detail: str
    times_received: int
    applied_at: str | None
    company_id: str | None
    push_operation_key: str | None
    expense_id: int | None


def deliveries(engine: Engine, *, verdict: str | None = None, limit: int = 50) -> tuple[list[DeliveryEntry], dict]:
    """The newest ``limit`` stored deliveries (with ``verdict`` only, if given), newest first,
    and the count of every verdict in the whole inbox."""
    with Session(engine) as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
        if verdict:
            query = query.where(WebhookDelivery.verdict == verdict)
        rows = session.exec(query.limit(limit)).all()
        counts = dict(session.exec(
            select(WebhookDelivery.verdict, func.count()).group_by(WebhookDelivery.verdict)).all())
        entries = [DeliveryEntry(
            delivery_id=r.delivery_id, received_at=_iso(r.received_at) or "", event_type=r.event_type,
            verdict=r.verdict, detail=r.verdict_detail, times_received=r.times_received,
            applied_at=_iso(r.applied_at), company_id=r.company_id, push_operation_key=r.push_operation_key,
            expense_id=r.expense_id) for r in rows]
    return entries, counts
