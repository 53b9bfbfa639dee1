"""Plain-Python change notifications from the core.

The core publishes small immutable events; subscribers are called on the
publishing thread and must return quickly (the Qt bridge only re-emits a queued
signal; ``codatdesk serve`` logs). A failing subscriber never breaks the core.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpenseChanged:
    expense_id: int
    company_id: str
    status: str


@dataclass(frozen=True)
class ExpensesImported:
    company_id: str
    count: int


@dataclass(frozen=True)
class DeliveryRecorded:
    """A delivery was stored, rejected, or got its verdict."""

    delivery_id: str
    verdict: str  # pending|applied|duplicate|stale|parked|unusable|rejected
    event_type: str = ""
    detail: str = ""
    expense_id: int | None = None


@dataclass(frozen=True)
class ConnectionChanged:
    company_id: str
    connection_id: str
    status: str


@dataclass(frozen=True)
class PushProgress:
    batch_id: int
    done: int
    total: int
    message: str = ""
    finished: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the user should read (rate limited, clock skew, listener down)."""

    level: str  # info|warning|error
    message: str
    topic: str = ""


@dataclass(frozen=True)
class StatusReport:
    """Health facts for the status bar: listener, tunnel, rate limit, last webhook."""

    key: str  # listener|tunnel|ratelimit|last_webhook|connection
    value: str
    extra: dict = field(default_factory=dict, compare=False, hash=False)


Event = ExpenseChanged | ExpensesImported | DeliveryRecorded | ConnectionChanged | PushProgress | Notice | StatusReport


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken view must not stop webhooks being applied
                log.exception("event subscriber failed on %r", event)
