"""The one door from the core's threads into the GUI thread.

The core calls its subscribers on whatever thread published (listener, applier,
push workers). :class:`CoreBridge` lives on the GUI thread; its subscriber only
*emits* a signal, and every consumer connects with ``Qt.QueuedConnection``, so
slots always run on the GUI thread, never touching widgets from a core thread.

:class:`RowRefreshCoalescer` turns a burst of "expense N changed" into one
model refresh per interval (the window uses ~one frame): 500 webhooks a second cost
one short DB read per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal, Slot

if TYPE_CHECKING:
    from codatdesk.events import Event, EventBus, ExpenseChanged

log = logging.getLogger(__name__)
QUEUED = Qt.ConnectionType.QueuedConnection


class CoreBridge(QObject):
    """Re-emits every core event as a Qt signal. Emitted from core threads; connect queued."""

    expenseChanged = Signal(object)  # ExpenseChanged
    expensesImported = Signal(object)  # ExpensesImported
    deliveryRecorded = Signal(object)  # DeliveryRecorded
    connectionChanged = Signal(object)  # ConnectionChanged
    pushProgress = Signal(object)  # PushProgress
    notice = Signal(object)  # Notice
    healthChanged = Signal(object)  # one of events.HEALTH_EVENTS (listener, tunnel, rate limit, ...)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None
        self._signals: dict[type, Signal] | None = None  # event class -> signal, built when first needed

    def _build_signals(self) -> dict[type, Signal]:
        from codatdesk.events import (
            HEALTH_EVENTS,
            ConnectionChanged,
            DeliveryRecorded,
            ExpenseChanged,
            ExpensesImported,
            Notice,
            PushProgress,
        )

        self._signals = {
            ExpenseChanged: self.expenseChanged,
            ExpensesImported: self.expensesImported,
            DeliveryRecorded: self.deliveryRecorded,
            ConnectionChanged: self.connectionChanged,
            PushProgress: self.pushProgress,
            Notice: self.notice,
            **dict.fromkeys(HEALTH_EVENTS, self.healthChanged),
        }
        return self._signals

    def attach(self, bus: EventBus) -> None:
        self.detach()
        self._build_signals()  # here on the GUI thread, not by the first publisher
        self._unsubscribe = bus.subscribe(self.publish)

    def detach(self) -> None:
        """Stop listening; call before the window goes so no core thread emits into a dead object."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def publish(self, event: Event) -> None:
        """Called on a core thread. Only emits: the queued connections carry it to the GUI thread."""
        signal = (self._signals or self._build_signals()).get(type(event))
        if signal is None:
            return
        try:
            signal.emit(event)
        except RuntimeError:  # the window (and this object) is already gone: stop listening
            self.detach()

    def connect_queued(self, signal_name: str, slot: Callable) -> None:
        getattr(self, signal_name).connect(slot, QUEUED)


class RowRefreshCoalescer(QObject):
    """Collects changed expense ids and flushes them in one call per ``interval_ms``.

    Leading edge: a change after a quiet spell is flushed on the next event-loop pass;
    changes that follow within ``interval_ms`` of a flush wait for the rest of that
    interval, so a burst still costs at most one refresh per interval.

    Lives on the GUI thread; ``add`` must be called there (it is the queued slot of
    ``CoreBridge.expenseChanged``).
    """

    flushed = Signal(int)  # how many ids were flushed (for tests and diagnostics)

    def __init__(self, flush: Callable[[set[int]], None], interval_ms: int = 50,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._flush = flush
        self._pending: set[int] = set()
        self._interval_ms = interval_ms
        self._since_flush = QElapsedTimer()  # invalid until the first flush
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush_now)

    @Slot(object)
    def on_expense_changed(self, event: ExpenseChanged) -> None:
        self.add((event.expense_id,))

    def add(self, expense_ids: Iterable[int]) -> None:
        self._pending.update(expense_ids)
        if self._pending and not self._timer.isActive():
            elapsed = self._since_flush.elapsed() if self._since_flush.isValid() else self._interval_ms
            self._timer.start(max(0, self._interval_ms - elapsed))

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def pending_ids(self) -> frozenset[int]:
        return frozenset(self._pending)

    @Slot()
    def flush_now(self) -> None:
        self._timer.stop()
        ids, self._pending = self._pending, set()
        if not ids:
            return
        self._since_flush.start()
        try:
            self._flush(ids)
        except Exception:  # a broken refresh must not stop later ones
            log.exception("refreshing %d expense row(s) failed", len(ids))
        self.flushed.emit(len(ids))
