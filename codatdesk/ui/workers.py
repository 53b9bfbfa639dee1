"""Run blocking calls (HTTP, keyring, file import) off the GUI thread.

``run_in_background(fn, on_done, on_error)`` runs ``fn`` in the global
``QThreadPool`` and calls ``on_done(result)`` or ``on_error(exception)`` on the GUI
thread. The callbacks are delivered through a relay ``QObject`` created on the
GUI thread and a queued connection, so they never run on the pool thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

_live: set[_Relay] = set()  # keeps relays alive until their result is delivered


class _Relay(QObject):
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None, owner: QObject | None) -> None:
        super().__init__(owner)
        self._on_done = on_done
        self._on_error = on_error
        self.finished.connect(self._deliver_result, Qt.ConnectionType.QueuedConnection)
        self.failed.connect(self._deliver_error, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _deliver_result(self, result: Any) -> None:
        _live.discard(self)
        if self._on_done is not None:
            self._on_done(result)

    @Slot(object)
    def _deliver_error(self, error: BaseException) -> None:
        _live.discard(self)
        if self._on_error is not None:
            self._on_error(error)
        else:
            log.error("background task failed", exc_info=error)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
            signal, value = self._relay.failed, exc
        else:
            signal, value = self._relay.finished, result
        try:
            signal.emit(value)
        except RuntimeError:  # the owner (and with it the relay) was closed meanwhile: drop the result
            _live.discard(self._relay)


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None,
                      *, owner: QObject | None = None, pool: QThreadPool | None = None) -> None:
    """Call ``fn()`` on a pool thread; deliver its result or exception on the GUI thread.

    With ``owner`` (a widget), the callbacks are dropped if the owner is deleted first.
    """
    relay = _Relay(on_done, on_error, owner)
    _live.add(relay)
    (pool or QThreadPool.globalInstance()).start(_Task(fn, relay))


class LatestRead:
    """Reads for one view off the GUI thread, where only the latest counts: the answer (or failure) of a read
    started before the last ``start`` or ``drop`` is dropped, since it is about an older state."""

    def __init__(self, owner: QObject) -> None:
        self._owner = owner
        self._latest = 0
        self.dropped = 0  # answers that came too late (tests wait on it)

    def start(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
              on_error: Callable[[BaseException], None]) -> None:
        self._latest += 1
        ticket = self._latest

        def done(result: Any) -> None:
            if ticket == self._latest:
                on_done(result)
            else:
                self.dropped += 1

        def failed(error: BaseException) -> None:
            if ticket == self._latest:
                on_error(error)
            else:
                self.dropped += 1

        run_in_background(fn, done, failed, owner=self._owner)

    def drop(self) -> None:
        """Whatever is on its way no longer counts."""
        self._latest += 1


def pending_tasks() -> int:
    return len(_live)
