"""Turn a stored (already verified) delivery body into a typed event.

Shapes follow Codat-Webhooks.json: the current envelope ``{id, eventType,
generatedDate, payload}`` and the legacy "rules" bodies (PascalCase top level,
``RuleType``/``Type`` and ``Data``). Field names are matched case-insensitively so
camelCase variants of the legacy fields work too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WRITE_EVENT = re.compile(r"^(?P<data_type>[A-Za-z][A-Za-z0-9-]*)\.write\.(?P<outcome>successful|unsuccessful)$")
CONNECTION_EVENTS = frozenset({"connection.created", "connection.connected", "connection.disconnected",
                               "connection.reconnected", "connection.failed", "connection.deleted"})
# Event types we receive but do not act on ("codatdesk.*" is our own tunnel self-test).
IGNORED_PREFIXES = ("codatdesk.", "company.", "read.completed", "client.rateLimit.", "bankFeeds.", "reports.")
EXPENSES_SYNC_EVENTS = frozenset({"expenses.sync.successful", "expenses.sync.unsuccessful"})
# Legacy rule types, normalized (lower case, letters and digits only).
LEGACY_PUSH_STATUS = "pushoperationstatuschanged"
LEGACY_PUSH_TIMED_OUT = "pushoperationtimedout"
LEGACY_CONNECTION = "dataconnectionstatuschanged"
LEGACY_IGNORED = frozenset({
    "newcompanysynchronized", "newcompanysynchronised", "datasynccompleted", "datasetdatachanged",
    "datasyncstatuschangedtoerror", "accountcategoriesupdated", "syncconnectiondeleted",
    "synccompleted", "synccomplete", "syncfailed", "ratelimitreached", "ratelimitreset",
    "clientratelimitreached", "clientratelimitreset",
})


class UnusableEvent(Exception):
    """A verified body we cannot act on (bad JSON, missing fields, unknown type)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WriteResult:
    """Result of a push (write request): ``push_operation_key`` is Codat's payload.id."""

    event_id: str
    event_type: str
    data_type: str
    push_operation_key: str
    status: str  # Success|Failed|TimedOut (Pending is passed through if Codat ever sends it)
    record_id: str | None
    company_id: str | None
    connection_id: str | None
    completed_at: dt.datetime | None
    generated_at: dt.datetime | None
    legacy: bool = False


@dataclass(frozen=True)
class ConnectionEvent:
    event_id: str
    event_type: str
    company_id: str | None
    connection_id: str
    status: str  # PendingAuth|Linked|Unlinked|Deauthorized, or Deleted for connection.deleted
    platform_name: str | None
    integration_key: str | None
    link_url: str | None
    errors: tuple[dict, ...]  # dataConnectionErrors
    generated_at: dt.datetime | None
    legacy: bool = False
    source_type: str | None = None  # Accounting|Banking|Commerce|Other|Unknown (Codat's Connection.sourceType)


@dataclass(frozen=True)
class IgnoredEvent:
    event_type: str
    event_id: str = ""


@dataclass(frozen=True)
class ExpensesSyncEvent:
    """A Sync for Expenses sync ended (Codat-Webhooks.json ``ExpensesSyncWebhook``): the engine reads the sync's
    transactions from Codat and applies those (the payload's own statuses are not used)."""

    event_id: str
    event_type: str
    sync_id: str
    company_id: str | None
    generated_at: dt.datetime | None


Event = WriteResult | ConnectionEvent | ExpensesSyncEvent | IgnoredEvent


def parse_event(body: bytes) -> Event:
    """Parse a delivery body; raises :class:`UnusableEvent` with a readable reason."""
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnusableEvent(f"body is not JSON: {_short(exc)}") from None
    if not isinstance(document, dict):
        raise UnusableEvent(f"body is a JSON {type(document).__name__}, not an object")

    event_type = _text(document, "eventType")
    if event_type is None and isinstance(_get(document, "payload"), dict):
        # Some of Codat's own examples name the envelope field "type".
        event_type = _text(document, "type")
    if event_type is not None:
        return _parse_current(document, event_type)

    rule_type = _text(document, "RuleType") or _text(document, "Type")
    if rule_type is not None:
        return _parse_legacy(document, rule_type)
    raise UnusableEvent("no eventType, RuleType or Type field")


def peek_event_type(body: bytes) -> tuple[str, str | None]:
    """(event type or "", problem) without raising: the listener's tolerant look at a body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return "", f"body is not JSON: {_short(exc)}"
    if not isinstance(document, dict):
        return "", f"body is a JSON {type(document).__name__}, not an object"
    for name in ("eventType", "RuleType", "Type", "type"):
        value = _text(document, name)
        if value:
            return value, None
    return "", None


# --- current envelope ----------------------------------------------------------

def _parse_current(document: dict, event_type: str) -> Event:
    event_id = _text(document, "id") or ""
    generated_at = _datetime(_get(document, "generatedDate"))

    write = WRITE_EVENT.match(event_type)
    if write:
        payload = _payload(document, event_type)
        key = _text(payload, "id")
        if not key:
            raise UnusableEvent(f"{event_type}: payload.id (the push operation key) is missing")
        default_status = "Success" if write["outcome"] == "successful" else "Failed"
        record = _get(payload, "record")
        return WriteResult(
            event_id=event_id,
            event_type=event_type,
            data_type=write["data_type"],
            push_operation_key=key,
            status=_text(payload, "status") or default_status,
            record_id=_text(record, "id") if isinstance(record, dict) else None,
            company_id=_company_id(payload),
            connection_id=_text(payload, "connectionId"),
            completed_at=_datetime(_get(payload, "completedOnDate")),
            generated_at=generated_at,
        )

    if event_type in CONNECTION_EVENTS:
        payload = _payload(document, event_type)
        connection = _get(payload, "connection")
        if not isinstance(connection, dict):
            raise UnusableEvent(f"{event_type}: payload.connection is missing")
        connection_id = _text(connection, "id")
        if not connection_id:
            raise UnusableEvent(f"{event_type}: payload.connection.id is missing")
        status = "Deleted" if event_type == "connection.deleted" else _text(connection, "status")
        if not status:
            raise UnusableEvent(f"{event_type}: payload.connection.status is missing")
        return ConnectionEvent(
            event_id=event_id,
            event_type=event_type,
            company_id=_company_id(payload),
            connection_id=connection_id,
            status=status,
            platform_name=_text(connection, "platformName"),
            integration_key=_text(connection, "integrationKey"),
            link_url=_text(connection, "linkUrl"),
            errors=_errors(_get(connection, "dataConnectionErrors")),
            generated_at=generated_at,
            source_type=_text(connection, "sourceType"),
        )

    if event_type in EXPENSES_SYNC_EVENTS:
        payload = _payload(document, event_type)
        sync_id = _text(payload, "syncId")
        if not sync_id:
            raise UnusableEvent(f"{event_type}: payload.syncId is missing")
        return ExpensesSyncEvent(event_id, event_type, sync_id, _company_id(payload), generated_at)

    if event_type.startswith(IGNORED_PREFIXES):
        return IgnoredEvent(event_type, event_id)
    raise UnusableEvent(f"unknown event type {event_type!r}")


# --- legacy rules bodies ---------------------------------------------------------

def _parse_legacy(document: dict, rule_type: str) -> Event:
    normalized = re.sub(r"[^a-z0-9]", "", rule_type.lower())
    event_id = _text(document, "AlertId") or ""
    data = _get(document, "Data")

    if normalized in (LEGACY_PUSH_STATUS, LEGACY_PUSH_TIMED_OUT):
        canonical = "PushOperationStatusChanged" if normalized == LEGACY_PUSH_STATUS else "PushOperationTimedOut"
        if not isinstance(data, dict):
            raise UnusableEvent(f"{rule_type}: Data is missing")
        key = _text(data, "pushOperationKey") or _text(data, "pushOperationGuid")
        if not key:
            raise UnusableEvent(f"{rule_type}: Data.pushOperationKey is missing")
        if normalized == LEGACY_PUSH_TIMED_OUT:
            status = "TimedOut"
        else:
            status = _text(data, "status")
            if not status:
                raise UnusableEvent(f"{rule_type}: Data.status is missing")
        return WriteResult(
            event_id=event_id,
            event_type=canonical,
            data_type=_text(data, "dataType") or "",
            push_operation_key=key,
            status=status,
            record_id=None,
            company_id=_text(document, "CompanyId"),
            connection_id=_text(document, "DataConnectionId"),
            completed_at=None,
            generated_at=None,
            legacy=True,
        )

    if normalized == LEGACY_CONNECTION:
        if not isinstance(data, dict):
            raise UnusableEvent(f"{rule_type}: Data is missing")
        connection_id = _text(data, "dataConnectionId") or _text(document, "DataConnectionId")
        if not connection_id:
            raise UnusableEvent(f"{rule_type}: Data.dataConnectionId is missing")
        status = _text(data, "newStatus")
        if not status:
            raise UnusableEvent(f"{rule_type}: Data.newStatus is missing")
        return ConnectionEvent(
            event_id=event_id,
            event_type="DataConnectionStatusChanged",
            company_id=_text(document, "CompanyId"),
            connection_id=connection_id,
            status=status,
            platform_name=None,
            integration_key=_text(data, "platformKey"),
            link_url=None,
            errors=(),
            generated_at=None,
            legacy=True,
        )

    if normalized in LEGACY_IGNORED:
        return IgnoredEvent(rule_type, event_id)
    raise UnusableEvent(f"unknown legacy rule type {rule_type!r}")


# --- helpers ---------------------------------------------------------------------

def _get(mapping: Any, name: str) -> Any:
    """``mapping[name]``, falling back to a case-insensitive match (PascalCase/camelCase)."""
    if not isinstance(mapping, dict):
        return None
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _text(mapping: Any, name: str) -> str | None:
    value = _get(mapping, name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _payload(document: dict, event_type: str) -> dict:
    payload = _get(document, "payload")
    if not isinstance(payload, dict):
        raise UnusableEvent(f"{event_type}: payload is missing or not an object")
    return payload


def _company_id(payload: dict) -> str | None:
    company = _get(payload, "referenceCompany")
    return _text(company, "id") if isinstance(company, dict) else None


def _errors(value: Any) -> tuple[dict, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def _datetime(value: Any) -> dt.datetime | None:
    """ISO 8601 to an aware datetime; Codat's webhook dates are UTC, so naive means UTC.

    A malformed date gives None rather than losing the whole event.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _short(exc: Exception) -> str:
    return str(exc)[:200]
