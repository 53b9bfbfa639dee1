"""Codat's ``Idempotency-Key`` header, as documented.

Source: codatio/codat-docs ``docs/using-the-api/write-data/idempotency.md`` (served at
https://docs.codat.io/using-the-api/write-data/idempotency; snapshot 1558f9a, 2026-08-17):

* the header may be sent with ``POST`` and ``PATCH`` requests; its value must be a GUID;
  only one such header per request;
* "Codat will cache the initial response and will use it on all following requests with
  the same ``Idempotency-Key`` header. This cache lasts 90 minutes." (``idempotency_ttl``);
* the same key with a different body -> ``422 Unprocessable Content``;
* the same key while the first request is still in progress -> ``409 Conflict``;
* a ``429 Too Many Requests`` answer is not cached: the key is released and a retry with the
  same key is a fresh attempt. Every other answer is cached and replayed, "including
  deterministic 4xx errors such as 400, 409, and 422, and 5xx server errors".

Sandbox choices where the docs are silent: the key is scoped to the API key (one client per
sandbox); "the same request" means the same method, path and body bytes (the query string
is not compared); a value that is not a GUID, or two headers, get ``400``; a replay is
served before the rate limits (it does no work); an exception inside the handler (the app's
own 500) releases the key like a 429.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

HEADER = "idempotency-key"
DOCUMENTED_TTL_SECONDS = 90 * 60  # "This cache lasts 90 minutes."
METHODS = ("POST", "PATCH")


@dataclass
class StoredAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    created: float
    answer: StoredAnswer | None = None  # None while the first request is in progress


@dataclass
class IdempotencyStats:
    first: int = 0       # requests processed under a new key
    replayed: int = 0    # answers served again from the cache
    conflicts: int = 0   # 409: same key, first request still in progress
    mismatches: int = 0  # 422: same key, another request
    released: int = 0    # 429 (or the app's own failure): nothing kept


class IdempotencyCache:
    """Answers kept per ``Idempotency-Key``; thread-safe, expiring after ``ttl()`` seconds."""

    def __init__(self, ttl: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self.stats = IdempotencyStats()

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()

    @staticmethod
    def valid_key(value: str) -> bool:
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True

    def begin(self, key: str, fingerprint: str) -> StoredAnswer | int | None:
        """``None``: a new key, now in progress (call ``finish`` or ``release``); a ``StoredAnswer``
        to replay; or 409 / 422."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(fingerprint, now)
                self.stats.first += 1
                return None
            if entry.fingerprint != fingerprint:
                self.stats.mismatches += 1
                return 422
            if entry.answer is None:
                self.stats.conflicts += 1
                return 409
            self.stats.replayed += 1
            return entry.answer

    def finish(self, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.answer is None:
                entry.answer = answer

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.answer is None:
                del self._entries[key]
                self.stats.released += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _expire(self, now: float) -> None:
        ttl = self._ttl()
        # An entry's 90 minutes run from the first request; one still in progress is never dropped.
        stale = [k for k, e in self._entries.items() if e.answer is not None and now - e.created >= ttl]
        for key in stale:
            del self._entries[key]
