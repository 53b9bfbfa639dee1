"""A push takes the answer of the check the user just saw, when nothing changed since.

The window checks before sending (the explain dialog), then pushes; the push used to check again
(with its own GET of the connection). ``CheckedPush`` is that first check's answer and the store's
write count at the time: a push given it skips its own check only if no transaction committed on the
database since (any write, even to another row: conservative) and it is younger than ``MAX_AGE_SECONDS``
(the connection may change at Codat while a dialog stays open; our choice). Otherwise the push checks
again, the only check that counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushProblem

MAX_AGE_SECONDS = 120.0


class WriteCounter:
    """Counts transactions committed on one database, from any thread."""

    def __init__(self, db: Engine) -> None:
        self._lock = threading.Lock()
        self._count = 0
        event.listen(db, "commit", self._bump)

    def _bump(self, _connection: object) -> None:
        with self._lock:
            self._count += 1

    @property
    def value(self) -> int:
        with self._lock:
            return self._count


@dataclass(frozen=True)
class CheckedPush:
    expense_ids: frozenset[int]
    again_anyway: bool
    problems: tuple[PushProblem, ...]
    connection_states: Mapping[str, tuple[str | None, str | None]]
    writes_seen: int
    checked_at: float = field(default_factory=time.monotonic)

    def holds_for(self, expense_ids: list[int], again_anyway: bool, writes_now: int) -> bool:
        return (again_anyway == self.again_anyway and set(expense_ids) <= self.expense_ids
                and writes_now == self.writes_seen and time.monotonic() - self.checked_at < MAX_AGE_SECONDS)
