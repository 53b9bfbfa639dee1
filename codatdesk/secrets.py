"""Credentials, kept only in the OS keyring (service ``codatdesk``).

A headless server may give any of them as environment variables instead
(``CODATDESK_API_KEY``, ``CODATDESK_WEBHOOK_SECRETS`` space- or comma-separated,
``CODATDESK_WEBHOOK_BASIC`` as ``user:password``, ``CODATDESK_WEBHOOK_BEARER``).
Each secret is looked up on its own: its environment variable first, then the keyring,
so an API key given by environment does not hide signing secrets kept in the keyring.
There is no plaintext fallback: an unusable keyring is reported, not worked around,
except on a server that gives some secrets by environment and has no keyring at all
(a container): there a secret in neither place is simply absent.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import keyring
import keyring.errors

from codatdesk.logging_setup import register_secret

SERVICE = "codatdesk"
API_KEY = "api_key"
WEBHOOK_SECRETS = "webhook_signing_secrets"  # JSON list, newest first
WEBHOOK_BASIC = "webhook_basic"  # "user:password"
WEBHOOK_BEARER = "webhook_bearer"
NGROK_AUTHTOKEN = "ngrok_authtoken"
DATABASE_PASSWORD = "database_password"  # the team database's (PostgreSQL) password: codatdesk.team.store_url

_ENV = {
    API_KEY: "CODATDESK_API_KEY",
    WEBHOOK_SECRETS: "CODATDESK_WEBHOOK_SECRETS",
    WEBHOOK_BASIC: "CODATDESK_WEBHOOK_BASIC",
    WEBHOOK_BEARER: "CODATDESK_WEBHOOK_BEARER",
    NGROK_AUTHTOKEN: "NGROK_AUTHTOKEN",
    DATABASE_PASSWORD: "CODATDESK_DATABASE_PASSWORD",
}
# Bumped by every write through this module, so a cache in this process knows to read again.
_generation = 0
_generation_lock = threading.Lock()


class KeyringProblem(Exception):
    """The keyring cannot be used. ``kind`` is unavailable|locked|failed; the message says what to do."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SecretMissing(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"no {describe(name)} is stored yet: enter it in Settings, or on a headless server "
                         f"set {_ENV.get(name, 'its environment variable')} or run "
                         f"`codatdesk settings set-secret {name}`")
        self.name = name


def describe(name: str) -> str:
    return {API_KEY: "Codat API key", WEBHOOK_SECRETS: "webhook signing secret",
            WEBHOOK_BASIC: "webhook Basic credentials", WEBHOOK_BEARER: "webhook Bearer token",
            NGROK_AUTHTOKEN: "ngrok auth token", DATABASE_PASSWORD: "team database password"}.get(name, name)


def backend_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _translate(exc: Exception) -> KeyringProblem:
    if isinstance(exc, keyring.errors.NoKeyringError):
        return KeyringProblem(
            "unavailable",
            "No usable keyring was found on this computer, so credentials cannot be stored safely. "
            "On Linux install and start a Secret Service (GNOME Keyring or KWallet) in your desktop session; "
            "for a headless server set the CODATDESK_* environment variables instead.",
        )
    if isinstance(exc, keyring.errors.KeyringLocked):
        return KeyringProblem("locked", "The keyring is locked. Unlock it (log in to your desktop session "
                                        "or open your keyring manager) and try again.")
    return KeyringProblem("failed", f"The keyring ({backend_name()}) refused the request: {exc}. "
                                    "Check that your keyring service is running and unlocked.")


def check_backend() -> str:
    """Return the backend's name if it works end to end; raise KeyringProblem otherwise."""
    probe = "__codatdesk_probe__"
    try:
        keyring.set_password(SERVICE, probe, "ok")
        value = keyring.get_password(SERVICE, probe)
        keyring.delete_password(SERVICE, probe)
    except Exception as exc:  # every backend raises its own types  # noqa: BLE001 - keyring backends raise anything; a broken backend is reported, never a crash
        raise _translate(exc) from None
    if value != "ok":
        raise KeyringProblem("failed", f"The keyring ({backend_name()}) did not return what was stored.")
    return backend_name()


def environment_mode(environ: dict[str, str] | None = None) -> bool:
    """Some CODATDESK_* secret is given by environment (a headless server, which may have no keyring)."""
    environ = os.environ if environ is None else environ
    return any(environ.get(var) for name, var in _ENV.items() if name != NGROK_AUTHTOKEN)


def env_name(name: str) -> str:
    return _ENV.get(name, "")


def get(name: str, *, environ: dict[str, str] | None = None) -> str | None:
    """The secret from its environment variable, else from the keyring (each secret on its own)."""
    environ = os.environ if environ is None else environ
    env = environ.get(_ENV.get(name, ""), "")
    if env:
        register_for_redaction(name, env)
        return env
    try:
        value = keyring.get_password(SERVICE, name)
    except Exception as exc:  # noqa: BLE001 - keyring backends raise anything; a broken backend is reported, never a crash
        problem = _translate(exc)
        if problem.kind == "unavailable" and environment_mode(environ):
            return None  # a server that gives its secrets by environment need not have a keyring
        raise problem from None
    register_for_redaction(name, value)
    return value


def source(name: str, *, environ: dict[str, str] | None = None) -> str | None:
    """Where ``get(name)`` finds the secret: its environment variable's name, "keyring", or None."""
    environ = os.environ if environ is None else environ
    if environ.get(_ENV.get(name, ""), ""):
        return _ENV[name]
    return "keyring" if get(name, environ=environ) else None


def register_for_redaction(name: str, value: str | None) -> None:
    """Every shape of a loaded secret that could reach a log line: the value, and what is
    derived from it (a signing key's bytes, Basic's password and header value, a bare Bearer token)."""
    if not value:
        return
    for form in _forms(name, value):
        register_secret(form)


def _forms(name: str, value: str) -> set[str]:
    forms = {value, quote(value, safe="")}
    if name == WEBHOOK_SECRETS:
        for secret in _split_secrets(value):
            forms |= {secret, secret.removeprefix("whsec_")}
    elif name == WEBHOOK_BASIC:
        forms |= {value.partition(":")[2], base64.b64encode(value.encode()).decode()}
    elif name == WEBHOOK_BEARER:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token:
            forms.add(token.strip())
    return {form for form in forms if form}


def require(name: str) -> str:
    value = get(name)
    if not value:
        raise SecretMissing(name)
    return value


def put(name: str, value: str) -> None:
    global _generation
    with _generation_lock:
        _generation += 1  # before the write too: a reader racing it reads again next time
    register_for_redaction(name, value)
    try:
        if value:
            keyring.set_password(SERVICE, name, value)
        else:
            try:
                keyring.delete_password(SERVICE, name)
            except keyring.errors.PasswordDeleteError:
                pass
    except Exception as exc:  # noqa: BLE001 - keyring backends raise anything; a broken backend is reported, never a crash
        raise _translate(exc) from None
    with _generation_lock:
        _generation += 1


def generation() -> int:
    """Changes whenever this process writes a secret (Settings, the CLI, webhook registration)."""
    with _generation_lock:
        return _generation


def signing_secrets() -> list[str]:
    """All accepted webhook signing secrets, newest first (two during a rotation)."""
    raw = get(WEBHOOK_SECRETS)
    return _split_secrets(raw) if raw else []


def _split_secrets(raw: str) -> list[str]:
    if raw.lstrip().startswith("["):
        try:
            return [s for s in json.loads(raw) if isinstance(s, str) and s]
        except json.JSONDecodeError:
            return []
    return [s for s in re.split(r"[\s,]+", raw) if s]


def set_signing_secrets(secrets: list[str]) -> None:
    cleaned = []
    for secret in secrets:
        secret = secret.strip()
        if secret and secret not in cleaned:
            cleaned.append(secret)
    put(WEBHOOK_SECRETS, json.dumps(cleaned) if cleaned else "")


def add_signing_secret(secret: str, *, keep: int = 2) -> None:
    """Accept a new secret while keeping the previous one, for Codat's rotation."""
    set_signing_secrets([secret, *signing_secrets()][:keep])


@dataclass(frozen=True)
class WebhookCredentials:
    signing_secrets: tuple[str, ...]
    basic: str | None  # "user:password"
    bearer: str | None


def webhook_credentials() -> WebhookCredentials:
    return WebhookCredentials(tuple(signing_secrets()), get(WEBHOOK_BASIC), get(WEBHOOK_BEARER))


class CachedWebhookCredentials:
    """The webhook credentials, read from the keyring once and then served from memory.

    A delivery would otherwise cost three keyring reads (D-Bus round trips, possibly a
    prompt), paid by anyone who knows the tunnel URL. Read again when this process writes
    a secret (``generation``), when ``invalidate`` is called (Settings saved), and, for a
    secret changed by another program, by ``recheck`` after a delivery fails with the
    cached values: at most once per ``recheck_seconds`` whoever sends them.
    """

    def __init__(self, load: Callable[[], WebhookCredentials] = webhook_credentials, *,
                 recheck_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: WebhookCredentials | None = None
        self._generation = -1
        self._loaded_at = float("-inf")

    def __call__(self) -> WebhookCredentials:
        with self._lock:
            if self._value is None or self._generation != generation():
                self._reload()
            assert self._value is not None
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None

    def recheck(self) -> bool:
        """Read again if the last read is old enough; True when the credentials changed."""
        with self._lock:
            if self._clock() - self._loaded_at < self._recheck_seconds:
                return False
            before = self._value
            self._reload()
            return self._value != before

    def _reload(self) -> None:
        current = generation()
        self._value = self._load()  # may raise (a locked keyring): nothing cached then
        self._generation = current
        self._loaded_at = self._clock()
