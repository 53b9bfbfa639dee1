"""Codat-style rate limiting: concurrent requests per company and a daily quota per client."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from .config import SandboxConfig
from .jsonio import codat_time, utc_now
from .state import ApiError

QUOTA_PER_COMPANY = 1000


class RateLimiter:
    def __init__(self, config: SandboxConfig, linked_companies: Callable[[], int]) -> None:
        self.config = config
        self._linked_companies = linked_companies
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = defaultdict(int)
        self._day = utc_now().date()
        self._used = 0

    def _roll_day(self) -> None:
        today = utc_now().date()
        if today != self._day:
            self._day, self._used = today, 0

    def limit(self) -> int:
        quota = self.config.daily_quota
        return quota if quota is not None else QUOTA_PER_COMPANY * (1 + self._linked_companies())

    @staticmethod
    def _next_reset() -> datetime:
        tomorrow = utc_now().date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(0, 0), tzinfo=UTC)

    def headers(self) -> dict[str, str]:
        with self._lock:
            self._roll_day()
            limit = self.limit()
            remaining = max(0, limit - self._used)
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": codat_time(self._next_reset()),
        }

    def acquire(self, scope: str) -> None:
        """Count one request against the quota and hold a concurrency slot, or raise 429."""
        with self._lock:
            self._roll_day()
            quota = self.config.daily_quota
            if quota is not None and self._used >= quota:
                seconds = int((self._next_reset() - utc_now()).total_seconds()) + 1
                raise ApiError(429, "You have exceeded your daily quota of requests; please retry after the quota resets.",
                               headers={"Retry-After": str(seconds)})
            if self._in_flight[scope] >= self.config.rate_limit_concurrency:
                raise ApiError(429, "You have made too many requests in a given amount of time; please retry later.",
                               headers={"Retry-After": "1"})
            self._used += 1
            self._in_flight[scope] += 1

    def release(self, scope: str) -> None:
        with self._lock:
            self._in_flight[scope] -= 1
            if self._in_flight[scope] <= 0:
                del self._in_flight[scope]

    def in_flight(self, scope: str) -> int:
        with self._lock:
            return self._in_flight.get(scope, 0)
