"""The durable inbox: a verified delivery is committed here before Codat gets its 2xx."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from codatdesk.store.db import session_scope
from codatdesk.store.models import WebhookDelivery

# Only these headers are kept: never Authorization or signatures (they are credentials
# or derived from them), nothing a tunnel might add about the user's network.
SAFE_HEADERS = frozenset({
    "webhook-id", "webhook-timestamp", "svix-id", "svix-timestamp",
    "content-type", "user-agent", "x-codat-clientid",
})
_EVENT_TYPE_MAX = 200


@dataclass(frozen=True)
class StoreResult:
    row_id: int
    is_new: bool
    verdict: str  # the stored row's verdict (the existing one for a duplicate)
    delivery_id: str = ""
    event_type: str = ""


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in headers.items() if k.lower() in SAFE_HEADERS}


class Inbox:
    """Insert-or-count, one short durable transaction per delivery (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def store(self, delivery_id: str, body: bytes, headers: Mapping[str, str], event_type: str,
              verdict: str = "pending", detail: str = "") -> StoreResult:
        """Store a delivery; a repeated ``delivery_id`` only increments ``times_received``.

        Database errors propagate: the listener answers 503 so Codat retries.
        """
        try:
            return self._store_once(delivery_id, body, headers, event_type, verdict, detail)
        except IntegrityError:
            # Another writer inserted the same id between our SELECT and INSERT (only
            # possible without SQLite's BEGIN IMMEDIATE): it is now a duplicate.
            return self._store_once(delivery_id, body, headers, event_type, verdict, detail)

    def _store_once(self, delivery_id: str, body: bytes, headers: Mapping[str, str], event_type: str,
                    verdict: str, detail: str) -> StoreResult:
        event_type = (event_type or "")[:_EVENT_TYPE_MAX]
        with session_scope(self._engine) as session:
            existing = session.exec(
                select(WebhookDelivery.id, WebhookDelivery.verdict, WebhookDelivery.event_type)
                .where(WebhookDelivery.delivery_id == delivery_id)
            ).first()
            if existing is not None:
                session.exec(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.delivery_id == delivery_id)
                    .values(times_received=WebhookDelivery.times_received + 1)
                )
                row_id, existing_verdict, existing_type = existing
                return StoreResult(row_id, False, existing_verdict, delivery_id, existing_type)
            row = WebhookDelivery(
                delivery_id=delivery_id,
                event_type=event_type,
                headers_json=json.dumps(safe_headers(headers), sort_keys=True),
                body=bytes(body),
                verdict=verdict,
                verdict_detail=detail,
            )
            session.add(row)
            session.flush()
            return StoreResult(row.id or 0, True, verdict, delivery_id, event_type)
