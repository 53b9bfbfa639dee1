"""Codat API client: typed errors, rate-limit tracking, push-safe retries."""

from .client import ClientClosed, CodatClient
from .errors import (
    CodatAuthError,
    CodatError,
    CodatNotFound,
    CodatRateLimited,
    CodatServerError,
    CodatUnavailable,
    PushOutcomeUnknown,
)
from .ratelimit import RateLimitState

__all__ = [
    "ClientClosed",
    "CodatAuthError",
    "CodatClient",
    "CodatError",
    "CodatNotFound",
    "CodatRateLimited",
    "CodatServerError",
    "CodatUnavailable",
    "PushOutcomeUnknown",
    "RateLimitState",
]
