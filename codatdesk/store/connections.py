"""The one writer of ``Connection`` rows.

Two sources tell codatdesk about a connection: Codat's ``connection.*`` webhooks (the applier
thread) and the engine's GET of the connection (a company pool thread). They race: a GET that
started before a ``connection.disconnected`` webhook can finish after it. Each fact therefore
carries when it was observed (the webhook's ``generatedDate``; the time the GET was *sent*), and
a fact older than the newest one applied changes nothing. ``Connection.last_event_at`` holds that
newest time. The two clocks are Codat's and ours (sandbox choice: they are taken to agree within
the skew the webhook verifier already tolerates).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Session

from codatdesk.events import ConnectionChanged
from codatdesk.machines import CONNECTION, ConnectionFact
from codatdesk.store.db import register
from codatdesk.store.models import Connection, utcnow


class FactApplied(StrEnum):
    CHANGED = "changed"      # the status changed (ConnectionChanged registered)
    REFRESHED = "refreshed"  # same status; details or times updated
    STALE = "stale"          # older than what is stored, or a move the machine refuses (Deleted is final)


def record_connection_fact(session: Session, fact: ConnectionFact, *, checked: bool = False) -> FactApplied:
    """Apply ``fact`` unless a newer one was applied. ``checked``: it comes from a GET (sets ``checked_at``).
    The caller owns the transaction (and the company row)."""
    conn = session.get(Connection, fact.connection_id)
    if conn is not None and conn.last_event_at is not None and fact.observed_at is not None \
            and _utc(fact.observed_at) < _utc(conn.last_event_at):
        return FactApplied.STALE
    was = conn.status if conn is not None else None
    status = fact.status or was or "PendingAuth"
    if was is not None and not CONNECTION.allows(was, status):
        return FactApplied.STALE
    if conn is None:
        conn = Connection(id=fact.connection_id, company_id=fact.company_id)
    conn.status = status
    conn.platform_name = fact.platform_name or conn.platform_name
    conn.integration_key = fact.integration_key or conn.integration_key
    conn.link_url = fact.link_url or conn.link_url
    conn.errors_json = fact.errors_json if checked or fact.errors_json else conn.errors_json
    if fact.observed_at is not None:
        conn.last_event_at = fact.observed_at
    if checked:
        conn.checked_at = utcnow()
    conn.updated_at = utcnow()
    session.add(conn)
    if status == was:
        return FactApplied.REFRESHED
    register(session, ConnectionChanged(conn.company_id, conn.id, status))
    return FactApplied.CHANGED


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
