"""Reads that can wait for a pause in the results: Codat's warnings on a successful push.

A Success webhook carries no validation warnings; one GET of the push operation reads them (Codat's
``DataTypeWriteWebhook`` has no ``validation``). They only annotate a row that is already Push complete, so the
GETs wait until results stop arriving for ``quiet`` seconds, and ``max_wait`` at most after the first one
waiting. During a storm of webhooks the process spends its time on the rows' statuses (B7: the reads took
more of the server than the applier did), and the GETs are spread out instead of doubling the requests to
Codat at the busiest moment. A failure's reasons do not wait: the person needs them to fix the row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

QUIET_SECONDS = 2.0
MAX_WAIT_SECONDS = 30.0


class QuietReads:
    """Calls ``read(company_id, key)`` for each key added, once the adds pause (one thread, only while some wait)."""

    def __init__(self, read: Callable[[str, str], None], *, quiet: float = QUIET_SECONDS,
                 max_wait: float = MAX_WAIT_SECONDS) -> None:
        self._read = read
        self.quiet = quiet
        self.max_wait = max_wait
        self._due: list[tuple[str, str]] = []
        self._first = self._last = 0.0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._changed = threading.Condition()

    def add(self, company_id: str, key: str) -> None:
        with self._changed:
            if self._closed:
                return
            now = time.monotonic()
            if not self._due:
                self._first = now
            self._due.append((company_id, key))
            self._last = now
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="quiet-reads", daemon=True)
                self._thread.start()
            self._changed.notify()

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._due)

    def close(self) -> None:
        """Drop what still waits (closing: a warning is not worth delaying the quit for)."""
        with self._changed:
            self._closed = True
            self._due = []
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    if self._closed or not self._due:
                        self._thread = None
                        return
                    wait = min(self._last + self.quiet, self._first + self.max_wait) - time.monotonic()
                    if wait <= 0:
                        break
                    self._changed.wait(wait)
                due, self._due = self._due, []
            for company_id, key in due:
                try:
                    self._read(company_id, key)
                except Exception:
                    log.warning("could not ask Codat for the warnings of push %s", key, exc_info=True)
