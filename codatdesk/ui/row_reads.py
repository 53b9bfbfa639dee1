"""Changed rows are read off the GUI thread, one read at a time.

The coalescer hands over the ids that changed in the last frame; reading them is a database round
trip (on a team's PostgreSQL, one over the network), and a GUI thread waiting for it cannot paint
(B7: every desktop stalled at once, each reading the same rows when the same change arrived). One
read runs at a time, in a one-thread pool, so reads end in the order they began and a row never
goes back to an older state; ids that change meanwhile join the next read. A read that began before
a whole reload of the model (``generation``) is older than what the reload showed, and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from codatdesk.ui.expense_model import ExpenseTableModel
from codatdesk.ui.workers import run_in_background

log = logging.getLogger(__name__)
RETRY_MS = 2000


class RowReads(QObject):
    applied = Signal(int)  # how many ids a read brought to the model (tests wait on it)

    def __init__(self, model: ExpenseTableModel, after: Callable[[set[int]], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._after = after  # what else shows these rows (totals, details pane, actions), once they are in
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._waiting: set[int] = set()
        self._reading = False
        self._in_read: list[int] = []
        self._retrying = False  # a read failed: the next waits for the retry's timer

    @property
    def busy(self) -> bool:
        return self._reading or bool(self._waiting)

    def unread(self) -> set[int]:
        """The ids asked for whose read has not reached the model yet."""
        return self._waiting | set(self._in_read)

    def request(self, expense_ids: Iterable[int]) -> None:
        self._waiting.update(expense_ids)
        if not self._reading and not self._retrying and self._waiting:
            self._start()

    def _start(self) -> None:
        ids, self._waiting = sorted(self._waiting), set()
        self._reading, self._in_read = True, ids
        generation, model = self._model.generation, self._model
        run_in_background(lambda: model.read_rows(ids), lambda fresh: self._arrived(ids, fresh, generation),
                          lambda error: self._failed(ids, error), owner=self, pool=self._pool)

    def _arrived(self, ids: list[int], fresh: dict, generation: int) -> None:
        self._reading, self._in_read = False, []
        try:
            if generation == self._model.generation:
                self._model.apply_read(ids, fresh)
            # Dropped or not, the model shows these rows as they are now: what follows them may look again.
            self._after(set(ids))
        finally:
            self.applied.emit(len(ids))
            if self._waiting and not self._retrying:
                self._start()

    def _failed(self, ids: list[int], error: BaseException) -> None:
        # The store is out of reach (a team database behind a lost network): these rows are read again in a
        # while, with whatever changes meanwhile; their changes are not announced a second time.
        self._reading, self._in_read = False, []
        log.warning("reading %d changed row(s) failed (trying again in %d s): %s", len(ids), RETRY_MS // 1000, error)
        self._waiting.update(ids)
        self.applied.emit(0)
        self._retrying = True
        QTimer.singleShot(RETRY_MS, self, self._retry)

    def _retry(self) -> None:
        self._retrying = False
        if not self._reading and self._waiting:
            self._start()
