"""Typed errors raised by :class:`codatdesk.codat.CodatClient`.

Every error carries what Codat told us (``status``, ``message``,
``correlation_id``, ``validation_errors``, ``body``) and ``processed``:

* ``processed is False``: Codat certainly did not act on the request (it never
  left this machine, or Codat answered 429/503/4xx), so sending it again cannot
  create a duplicate.
* ``processed is None``: unknown or not meaningful (e.g. a failed GET).

A push whose outcome is unknown raises :class:`PushOutcomeUnknown` instead,
never a plain server/network error, so the caller has to look at Codat's push
history before resending.

Messages and reprs never contain the API key: the client builds them from the
response body with the key redacted, and never from request headers.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = [
    "CodatAuthError",
    "CodatError",
    "CodatNotFound",
    "CodatRateLimited",
    "CodatServerError",
    "CodatUnavailable",
    "PushOutcomeUnknown",
]


class CodatError(Exception):
    """Any failure talking to Codat. Also used as-is for other 4xx (400, 402, 409, 422...)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        validation_errors: list[dict[str, Any]] | None = None,
        validation_warnings: list[dict[str, Any]] | None = None,
        body: Any = None,
        processed: bool | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.correlation_id = correlation_id
        self.validation_errors: list[dict[str, Any]] = list(validation_errors or [])
        self.validation_warnings: list[dict[str, Any]] = list(validation_warnings or [])
        self.body = body
        self.processed = processed
        self.method = method
        self.path = path

    @property
    def can_be_retried(self) -> str | None:
        """Codat's own hint (a string such as "Unknown"), if the body had one."""
        if isinstance(self.body, dict):
            value = self.body.get("canBeRetried")
            return None if value is None else str(value)
        return None

    @property
    def detailed_error_code(self) -> int | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("detailedErrorCode"), int):
            return self.body["detailedErrorCode"]
        return None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class CodatAuthError(CodatError):
    """401 (wrong key) or 403 (outdated key, or key not linked to the resource)."""


class CodatNotFound(CodatError):
    """404: the resource does not exist, or the platform does not support the data type."""


class CodatRateLimited(CodatError):
    """429 and the wait Codat asked for exceeds what we are willing to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("processed", False)
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CodatServerError(CodatError):
    """5xx from Codat. ``processed`` is False for 503 (maintenance)."""


class CodatUnavailable(CodatError):
    """Network error or timeout; no HTTP status. ``processed`` is False when nothing was sent."""


class PushOutcomeUnknown(CodatError):
    """A push request may or may not have been applied by Codat.

    Raised for a push POST that timed out while waiting for the answer, lost its
    connection after sending (and resends with the same key did too), or got
    500/502/504 (or an unreadable 200). Never resend with a new key: within Codat's
    90-minute window resend the same body with ``idempotency_key`` (the answer is the
    first request's); after it, list the company's push operations for ``data_type``
    requested at or after ``started_at`` and resend only if none matches.
    """

    def __init__(
        self,
        message: str,
        *,
        data_type: str,
        company_id: str,
        connection_id: str | None,
        started_at: _dt.datetime,
        cause: BaseException | None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.idempotency_key = idempotency_key
        self.data_type = data_type
        self.company_id = company_id
        self.connection_id = connection_id
        self.started_at = started_at
        self.cause = cause

    def __repr__(self) -> str:
        return (
            f"PushOutcomeUnknown(data_type={self.data_type!r}, company_id={self.company_id!r}, "
            f"started_at={self.started_at.isoformat()!r}, status={self.status!r}, "
            f"message={self.message!r})"
        )
