"""One sync per bulk push, queued when the batch's last push has ended.

Codat syncs the pushed data type after every push unless the POST says
``allowSyncOnPushComplete=false`` ("Allow a sync upon push completion", default true: codat-docs
``static/oas/Codat-Sync-Expenses.json``, ``components/parameters/allowSyncOnPushComplete``;
``tests/openapi/Codat-Sync-Expenses.json``). Fifty direct costs would queue fifty syncs of the
same data type. So a bulk push sends ``false`` and, once every push of the batch has ended
(Success, Failed or TimedOut, by webhook or reconciliation; not when the POSTs were sent), queues
one ``POST /companies/{id}/data/queue/{dataType}`` per company and data type, so the written
records become readable from Codat's cache (codat-docs ``docs/using-the-api/push.md``).

Nothing is queued when no push of the group succeeded: nothing was written. A single push keeps
Codat's default. The bookkeeping is in memory: a process that stops before its batch ends queues
no sync, and Codat's next sync of the data type (scheduled, or after a later push) reads them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Group:
    pending: set[str] = field(default_factory=set)
    succeeded: int = 0
    queued: bool = False


@dataclass
class _Batch:
    groups: dict[tuple[str, str], _Group] = field(default_factory=dict)
    closed: bool = False


class SyncAfterBatch:
    """Which push keys each bulk batch still waits for; ``queue_sync(company_id, data_type)`` once per group."""

    def __init__(self, queue_sync: Callable[[str, str], None]) -> None:
        self._queue_sync = queue_sync
        self._lock = threading.Lock()
        self._batches: dict[int, _Batch] = {}
        self._batch_of: dict[str, int] = {}  # push key -> batch id

    def open(self, batch_id: int) -> None:
        with self._lock:
            self._batches.setdefault(batch_id, _Batch())

    def sent(self, batch_id: int, company_id: str, data_type: str, key: str) -> None:
        """Call with Codat's key before it is stored, so its result cannot be applied first."""
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return
            batch.groups.setdefault((company_id, data_type), _Group()).pending.add(key)
            self._batch_of[key] = batch_id

    def close(self, batch_id: int) -> None:
        """Every POST of the batch has been sent (or not): from now on its last ending push queues the sync."""
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return
            batch.closed = True
            due = self._due(batch_id, batch)
        self._run(due)

    def ended(self, key: str, status: str) -> None:
        """The push ``key`` reached a final status (the applier, after its commit)."""
        with self._lock:
            batch_id = self._batch_of.pop(key, None)
            batch = self._batches.get(batch_id) if batch_id is not None else None
            if batch is None:
                return
            for group in batch.groups.values():
                if key in group.pending:
                    group.pending.discard(key)
                    group.succeeded += status == "Success"
            due = self._due(batch_id, batch)
        self._run(due)

    def waiting(self) -> int:
        """Pushes of open bulk batches that have not ended yet (for tests and diagnostics)."""
        with self._lock:
            return len(self._batch_of)

    def _due(self, batch_id: int, batch: _Batch) -> list[tuple[str, str]]:
        if not batch.closed:
            return []
        due = []
        for (company_id, data_type), group in batch.groups.items():
            if not group.pending and not group.queued:
                group.queued = True
                if group.succeeded:
                    due.append((company_id, data_type))
        if all(g.queued for g in batch.groups.values()):
            del self._batches[batch_id]
        return due

    def _run(self, due: list[tuple[str, str]]) -> None:
        for company_id, data_type in due:
            try:
                self._queue_sync(company_id, data_type)
            except Exception:  # a sync is a convenience: the pushes themselves are done
                log.exception("queuing the sync of %s for %s failed", data_type, company_id)
