"""Authenticate a webhook delivery from its headers and raw body bytes.

Standard Webhooks / Svix signatures (``webhook-*`` or ``svix-*`` headers) and/or a
Portal-configured ``Authorization`` header. Runs before any JSON parsing; every
failure, including library exceptions on hostile input, becomes :class:`Rejected`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook

from codatdesk.secrets import WebhookCredentials

log = logging.getLogger(__name__)

AUTHORIZATION_MODES = ("none", "basic", "bearer")
MAX_DELIVERY_ID_LENGTH = 200  # webhook_delivery.delivery_id column size
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
NO_SECRET_REASON = "no webhook signing secret is configured"


class ListenerError(Exception):
    """The listener cannot or must not run (port in use, accept-anything configuration)."""


class Rejected(Exception):
    """A delivery that must not be stored. ``status_code`` is what the sender gets back."""

    def __init__(self, status_code: int, reason: str, clock_skew: bool = False) -> None:
        super().__init__(f"{status_code} {reason}")
        self.status_code = status_code
        self.reason = reason
        self.clock_skew = clock_skew


@dataclass(frozen=True)
class VerifiedDelivery:
    delivery_id: str
    timestamp: int | None  # webhook-timestamp of a signed delivery
    signed: bool


class Verifier:
    """Checks every configured protection; all of them must pass.

    ``credentials`` is called for every delivery that carries the headers the
    configuration requires (a request without them is refused before it is called), so a
    secret entered in Settings takes effect without a restart; give a cache
    (``secrets.CachedWebhookCredentials``), since it may block on the keyring: the
    listener calls ``verify`` from a worker thread, never on its event loop.
    ``recheck`` (the cache's) is called after the credentials did not match: when it says
    they changed, the delivery is checked once more against the new ones.
    """

    def __init__(
        self,
        credentials: Callable[[], WebhookCredentials],
        *,
        recheck: Callable[[], bool] | None = None,
        require_signature: bool = True,
        authorization: str = "none",
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if authorization not in AUTHORIZATION_MODES:
            raise ValueError(f"authorization must be one of {', '.join(AUTHORIZATION_MODES)}, not {authorization!r}")
        if not require_signature and authorization == "none":
            raise ListenerError(
                "the webhook listener would accept any request: require a signature "
                "(webhook.require_signature) or an Authorization header (webhook.authorization)")
        self._credentials = credentials
        self._recheck = recheck
        self.require_signature = require_signature
        self.authorization = authorization
        self.tolerance_seconds = tolerance_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Any, credentials: Callable[[], WebhookCredentials], *,
                      recheck: Callable[[], bool] | None = None) -> Verifier:
        return cls(credentials, recheck=recheck, require_signature=bool(settings.get("webhook.require_signature")),
                   authorization=settings.get("webhook.authorization") or "none")

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedDelivery:
        try:
            return self._verify(headers, body)
        except Rejected:
            raise
        except Exception as exc:  # hostile input must never become a 500  # noqa: BLE001 - any failure inside verification is 400, never 500
            log.info("webhook verification failed unexpectedly: %s", type(exc).__name__)
            raise Rejected(400, f"malformed request ({type(exc).__name__})") from None

    def _verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedDelivery:
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        self._require_headers(lowered)  # before any keyring read: anyone may knock
        try:
            return self._check(lowered, body, self._current_credentials())
        except Rejected as rejected:
            if rejected.status_code != 401 or rejected.clock_skew or self._recheck is None:
                raise
            # A secret changed by another program (`codatdesk secrets set`, the keyring's own UI).
            if not self._recheck():
                raise
            return self._check(lowered, body, self._current_credentials())

    def _current_credentials(self) -> WebhookCredentials:
        try:
            return self._credentials()
        except Exception as exc:  # a locked keyring is our problem: let Codat retry  # noqa: BLE001 - any failure inside verification is 400, never 500
            log.warning("webhook credentials unavailable: %s", type(exc).__name__)
            raise Rejected(503, "webhook credentials are unavailable") from None

    def _require_headers(self, headers: dict[str, str]) -> None:
        if self.authorization != "none" and not headers.get("authorization"):
            raise Rejected(401, "missing Authorization header")
        if self.require_signature:
            missing = [name for name in ("id", "timestamp", "signature") if not _header(headers, name)]
            if missing:
                raise Rejected(401, "missing webhook-" + "/-".join(missing) + " header")

    def _check(self, lowered: dict[str, str], body: bytes, creds: WebhookCredentials) -> VerifiedDelivery:
        if self.authorization != "none":
            self._check_authorization(lowered.get("authorization"), creds)

        if self.require_signature:
            delivery_id, timestamp = self._check_signature(lowered, body, creds.signing_secrets)
            return VerifiedDelivery(delivery_id, timestamp, signed=True)
        return VerifiedDelivery(self._unsigned_delivery_id(lowered, body), None, signed=False)

    # --- Authorization ---------------------------------------------------------

    def _check_authorization(self, header: str | None, creds: WebhookCredentials) -> None:
        if not header:
            raise Rejected(401, "missing Authorization header")
        scheme, _, value = header.strip().partition(" ")
        if self.authorization == "basic":
            if not creds.basic:
                raise Rejected(401, "no Basic credentials are configured")
            if scheme.lower() != "basic":
                raise Rejected(401, "Authorization is not Basic")
            try:
                presented = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise Rejected(401, "Authorization Basic value is not base64") from None
            if not hmac.compare_digest(presented, creds.basic.encode("utf-8")):
                raise Rejected(401, "Authorization Basic credentials do not match")
            return
        # Bearer. The Portal's custom header is free text: accept "Bearer <token>" or the
        # bare token, and a stored value that includes the scheme.
        if not creds.bearer:
            raise Rejected(401, "no Bearer token is configured")
        expected = _strip_scheme(creds.bearer, "bearer")
        presented_token = value.strip() if scheme.lower() == "bearer" else header.strip()
        if not hmac.compare_digest(presented_token.encode("utf-8"), expected.encode("utf-8")):
            raise Rejected(401, "Authorization Bearer token does not match")

    # --- Signature -------------------------------------------------------------

    def _check_signature(self, headers: dict[str, str], body: bytes,
                         secrets: tuple[str, ...]) -> tuple[str, int]:
        msg_id = _header(headers, "id")
        raw_timestamp = _header(headers, "timestamp")
        signature = _header(headers, "signature")
        missing = [name for name, value in (("id", msg_id), ("timestamp", raw_timestamp),
                                            ("signature", signature)) if not value]
        if missing:
            raise Rejected(401, "missing webhook-" + "/-".join(missing) + " header")
        assert msg_id and raw_timestamp and signature
        if len(msg_id) > MAX_DELIVERY_ID_LENGTH:
            raise Rejected(400, "webhook-id is too long")
        if not _TIMESTAMP.match(raw_timestamp.strip()):
            raise Rejected(400, "webhook-timestamp is not an integer")
        timestamp = int(raw_timestamp.strip())
        if not secrets:
            raise Rejected(401, NO_SECRET_REASON)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "body is not UTF-8") from None

        presented = _v1_signatures(signature)
        if not presented:
            raise Rejected(401, "no v1 signature in webhook-signature")
        signed_at = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        usable = 0
        matched = False
        for secret in secrets:
            try:
                expected_token = Webhook(secret).sign(msg_id, signed_at, text)
                expected = base64.b64decode(expected_token.partition(",")[2])
            except Exception:  # a mistyped secret: skip it, the others may still match  # noqa: BLE001 - any failure inside verification is 400, never 500
                continue
            usable += 1
            # Compare against every entry (no early exit on the first mismatch).
            if any(hmac.compare_digest(expected, candidate) for candidate in presented):
                matched = True
                break
        if not usable:
            raise Rejected(401, "no configured signing secret is usable (check its format)")
        if not matched:
            raise Rejected(401, "no matching signature")

        skew = timestamp - self._clock()
        if abs(skew) > self.tolerance_seconds:
            direction = "in the future" if skew > 0 else "old"
            raise Rejected(401, f"timestamp {abs(int(skew))} s {direction}, outside the "
                                f"±{self.tolerance_seconds} s window", clock_skew=True)
        return msg_id, timestamp

    # --- Delivery id for unsigned deliveries -----------------------------------

    @staticmethod
    def _unsigned_delivery_id(headers: dict[str, str], body: bytes) -> str:
        # New service with an Authorization header only still sends webhook-id.
        header_id = _header(headers, "id")
        if header_id and len(header_id) <= MAX_DELIVERY_ID_LENGTH:
            return header_id
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            alert_id = document.get("AlertId") or document.get("alertId")
            if isinstance(alert_id, str) and 0 < len(alert_id.strip()) <= MAX_DELIVERY_ID_LENGTH:
                return alert_id.strip()
        return "sha256:" + hashlib.sha256(body).hexdigest()


def _header(headers: dict[str, str], name: str) -> str | None:
    return headers.get(f"webhook-{name}") or headers.get(f"svix-{name}")


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` entries; malformed entries are skipped, not fatal."""
    signatures = []
    for token in header.split():
        version, comma, value = token.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            signatures.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return signatures


def _strip_scheme(value: str, scheme: str) -> str:
    value = value.strip()
    if value.lower().startswith(scheme + " "):
        return value[len(scheme) + 1:].strip()
    return value
