"""Sandbox knobs. Every field can be changed at runtime (``sb.config.error_rate = 0.3``)
or over HTTP with ``POST /_sandbox/config`` (a JSON object of the fields to change)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxConfig:
    push_delay: float = 1.0
    """Seconds from a push request to its completion (Success/Failed/TimedOut)."""
    seed: int | None = 0
    """Seeds every random choice (ids, fault injection); None for non-reproducible runs."""
    timeout_share: float = 0.0
    """Share of push operations that end TimedOut instead of being evaluated."""
    latency: float = 0.0
    """Seconds added to every Codat API request (while it counts as in flight)."""
    rate_limit_concurrency: int = 10
    """Concurrent requests allowed per company; one more gets 429 with Retry-After."""
    daily_quota: int | None = None
    """Requests allowed per UTC day; None means Codat's 1000 x (1 + linked companies), not enforced."""
    error_rate: float = 0.0
    """Share of Codat API requests answered 500 or 503 before doing anything."""
    throttle_rate: float = 0.0
    """Share of Codat API requests answered 429 with ``Retry-After: 1`` before doing anything."""
    timeout_rate: float = 0.0
    """Share of Codat API requests that take effect but are answered only after ``stall_seconds``
    (a client with a shorter read timeout gives up: the answer is lost, the request was processed)."""
    reset_rate: float = 0.0
    """Share of Codat API requests that take effect, then lose the connection mid-answer."""
    stall_seconds: float = 35.0
    """How late a ``timeout_rate`` answer comes (longer than a 30 s client timeout)."""
    push_drop_rate: float = 0.0
    """Share of push POST answers (directCosts, accounts) lost AFTER the push took effect: the push
    operation is recorded (and its answer kept under its Idempotency-Key), then the connection drops
    mid-answer (``push_drop_mode`` "reset") or the answer comes ``stall_seconds`` late ("timeout")."""
    push_drop_mode: str = "reset"
    """How a ``push_drop_rate`` answer is lost: "reset" or "timeout"."""
    idempotency_ttl: float = 90 * 60.0
    """Seconds an answer stays cached under its Idempotency-Key (Codat: 90 minutes, see sandbox.idempotency)."""
    page_overlap: int = 0
    """Records of the previous page served again at the start of each later page of a list, as offset
    paging does when records move between pages (``_links``/``totalResults`` are unchanged)."""
    duplicate_share: float = 0.0
    """Share of webhook messages delivered twice (same webhook-id)."""
    drop_share: float = 0.0
    """Share of webhook messages silently never delivered."""
    shuffle: bool = False
    """Jitter push completion and webhook delivery timing, so events arrive out of order."""
    legacy_webhooks: bool = False
    """Send legacy rule bodies (PascalCase, unsigned) instead of the current envelope."""
    delivery_authorization: str | None = None
    """Full Authorization header value added to every webhook delivery, e.g. "Bearer tok"."""
    retry_schedule: tuple[float, ...] = field(default=(0, 0.2, 1.0, 3.0))
    """Delay in seconds before each delivery attempt; the first is the initial attempt
    (Codat: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Then abandoned."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a mapping of field changes, checking names and coercing JSON types."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown sandbox config field(s): {', '.join(unknown)}")
        coerced = {name: _coerce(name, value) for name, value in changes.items()}
        for name, value in coerced.items():
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["retry_schedule"] = list(self.retry_schedule)
        return data


_FLOATS = {"push_delay", "timeout_share", "latency", "error_rate", "duplicate_share", "drop_share",
           "throttle_rate", "timeout_rate", "reset_rate", "stall_seconds", "push_drop_rate", "idempotency_ttl"}
_SHARES = {"timeout_share", "error_rate", "duplicate_share", "drop_share", "throttle_rate", "timeout_rate",
           "reset_rate", "push_drop_rate"}
_BOOLS = {"shuffle", "legacy_webhooks"}


def _coerce(name: str, value: Any) -> Any:
    if name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number")
        number = float(value)
        if number < 0 or (name in _SHARES and number > 1):
            raise ValueError(f"{name} out of range: {value}")
        return number
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name in ("seed", "daily_quota"):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be an integer or null")
        return value
    if name == "push_drop_mode":
        if value not in ("reset", "timeout"):
            raise ValueError('push_drop_mode must be "reset" or "timeout"')
        return value
    if name == "page_overlap":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("page_overlap must be a non-negative integer")
        return value
    if name == "rate_limit_concurrency":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("rate_limit_concurrency must be a positive integer")
        return value
    if name == "delivery_authorization":
        if value is not None and not isinstance(value, str):
            raise ValueError("delivery_authorization must be a string or null")
        return value or None
    if name == "retry_schedule":
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("retry_schedule must be a non-empty list of seconds")
        delays = tuple(float(delay) for delay in value)
        if any(delay < 0 for delay in delays):
            raise ValueError("retry_schedule delays must be >= 0")
        return delays
    return value
