"""Plain-Python change notifications from the core.

The core publishes small immutable events; subscribers are called on the
publishing thread and must return quickly (the Qt bridge only re-emits a queued
signal; ``codatdesk serve`` logs). A failing subscriber never breaks the core.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codatdesk.states import ExpenseStatus

if TYPE_CHECKING:
    from codatdesk.tunnel.state import TunnelState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpenseChanged:
    """A committed change of one expense. ``old == new``: its fields or explanation changed, not its status."""

    expense_id: int
    company_id: str
    old: ExpenseStatus | None  # None: the expense was added
    new: ExpenseStatus | None  # None: the expense was deleted
    cause: str = ""  # "<kind>:<ref>" of store.history.Cause (webhook:<delivery id>, user:..., ...)
    # Committed by another process on the team's database (the change feed published it here).
    from_feed: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ExpensesImported:
    company_id: str
    count: int


@dataclass(frozen=True)
class DeliveryRecorded:
    """A delivery was stored, rejected, or got its verdict."""

    delivery_id: str
    # machines.Verdict, or two that are never stored: "duplicate" (received before) and "rejected"
    # (refused before storing: signature or credentials).
    verdict: str
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


# -- health facts for the status bar (typed: producer and consumer share the fields) --------------

@dataclass(frozen=True)
class ListenerStateChanged:
    """The webhook listener started (``url``) or stopped (``url`` None; ``error`` says why, if it failed)."""

    url: str | None
    error: str = ""


@dataclass(frozen=True)
class TunnelStateChanged:
    state: TunnelState
    provider: str = ""
    webhook_url: str | None = None


@dataclass(frozen=True)
class TunnelHealthChanged:
    """A self-test delivery's verdict: healthy|degraded|down|unknown, or off (no tunnel configured)."""

    status: str
    message: str = ""
    url: str | None = None
    round_trip_seconds: float | None = None
    checked_at: dt.datetime | None = None


@dataclass(frozen=True)
class RateLimitChanged:
    remaining: int
    limit: int | None = None


@dataclass(frozen=True)
class WebhookArrived:
    at: dt.datetime


@dataclass(frozen=True)
class ConnectionChecked:
    """Codat's answer to "what is this company's connection?" (``not chosen`` when there is none)."""

    company_id: str
    status: str


@dataclass(frozen=True)
class DeliveriesDropped:
    total: int  # deliveries for companies codatdesk does not serve, so far


@dataclass(frozen=True)
class WebhookRegistrationChanged:
    registered: bool
    consumer_id: str | None = None
    url: str | None = None
    secret_pending: bool = False
    disabled: bool = False


HealthEvent = (ListenerStateChanged | TunnelStateChanged | TunnelHealthChanged | RateLimitChanged | WebhookArrived
               | ConnectionChecked | DeliveriesDropped | WebhookRegistrationChanged)
HEALTH_EVENTS = (ListenerStateChanged, TunnelStateChanged, TunnelHealthChanged, RateLimitChanged, WebhookArrived,
                 ConnectionChecked, DeliveriesDropped, WebhookRegistrationChanged)

Event = ExpenseChanged | ExpensesImported | DeliveryRecorded | ConnectionChanged | PushProgress | Notice | HealthEvent


class HealthSnapshot:
    """The newest health fact of each kind (per company for connections), so a view that starts late
    draws the current state instead of waiting for the next change. Subscribe it to the bus first."""

    def __init__(self) -> None:
        self._latest: dict[tuple, HealthEvent] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, HEALTH_EVENTS):
            key = (type(event), event.company_id) if isinstance(event, ConnectionChecked) else (type(event),)
            with self._lock:
                self._latest[key] = event

    def current(self) -> list[HealthEvent]:
        with self._lock:
            return list(self._latest.values())


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
