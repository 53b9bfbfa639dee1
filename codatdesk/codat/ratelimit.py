"""Codat rate-limit headers and ``Retry-After`` parsing."""

from __future__ import annotations

import datetime as _dt
import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["RateLimitState", "parse_rate_limit_headers", "parse_retry_after"]


@dataclass(frozen=True)
class RateLimitState:
    """Latest ``X-Rate-Limit-*`` values seen; all None until a response carried them.

    ``reset`` is kept as Codat sent it (a date string), ``updated_at`` is when we saw it (UTC).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: str | None = None
    updated_at: _dt.datetime | None = None


def _to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_rate_limit_headers(
    headers: Mapping[str, str], now: _dt.datetime
) -> RateLimitState | None:
    """State from one response's headers, or None if it carried none of them."""
    limit = headers.get("X-Rate-Limit-Limit")
    remaining = headers.get("X-Rate-Limit-Remaining")
    reset = headers.get("X-Rate-Limit-Reset")
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimitState(
        limit=_to_int(limit),
        remaining=_to_int(remaining),
        reset=reset.strip() if reset is not None else None,
        updated_at=now,
    )


def parse_retry_after(
    value: str | None, now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.UTC)
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns None when absent or unparseable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP dates are GMT.
        when = when.replace(tzinfo=_dt.UTC)
    return max(0.0, (when - now()).total_seconds())
