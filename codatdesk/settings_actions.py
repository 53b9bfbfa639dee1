"""What the settings screens ask for, without Qt: try an API key, list connections, save settings and secrets.

The first-run wizard runs before a core exists and uses ``Standalone``; the settings dialog asks the
running core (``CoreAPI`` has the same members, and ``Core`` calls these functions). Every call blocks
on the network or the keyring, so the screens run it off the GUI thread. Failures come back as plain
values, a reason and a fix in words a user can act on, never as exceptions a widget must decode.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from codatdesk import secrets
from codatdesk.codat.errors import CodatAuthError, CodatError, CodatNotFound, CodatRateLimited, CodatUnavailable
from codatdesk.settings import Settings

# Shown as its own field; stored as the second entry of the signing-secret list (secrets.WEBHOOK_SECRETS).
PREVIOUS_SIGNING_SECRET = "webhook_signing_secret_previous"
# Trying a key is interactive: one retry and a 15 s timeout, not the engine's patient defaults.
LOOKUP_TIMEOUT_SECONDS = 15.0

ClientFactory = Callable[[str, str], Any]  # (api key, base url) -> a CodatClient


@dataclass(frozen=True)
class CheckResult:
    """Codat's records (companies or connections), or why they could not be read and what to do."""

    items: tuple[dict[str, Any], ...] = ()
    reason: str = ""  # empty: it worked
    fix: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class SaveResult:
    """What was written, or why nothing was (the keyring or the settings file refused)."""

    changed: frozenset[str] = frozenset()  # setting keys whose value changed
    secrets_changed: frozenset[str] = frozenset()  # secret names written
    reason: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


class SettingsActions(Protocol):
    """What a settings screen may ask; ``Standalone`` and the core both answer it."""

    def check_api_key(self, base_url: str, api_key: str | None) -> CheckResult:
        """The companies this key sees (``api_key`` None: the stored key)."""
        ...

    def list_codat_connections(self, base_url: str, api_key: str | None, company_id: str) -> CheckResult:
        """The company's accounting connections, Linked first."""
        ...

    def save_settings(self, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> SaveResult:
        """Write typed secrets to the keyring and changed values to the settings file."""
        ...


def default_client(api_key: str, base_url: str) -> Any:
    from codatdesk.codat import CodatClient

    return CodatClient(api_key, base_url, max_retries=1, timeout=LOOKUP_TIMEOUT_SECONDS)


def check_api_key(base_url: str, api_key: str | None, *, client_factory: ClientFactory = default_client) -> CheckResult:
    return _ask(base_url, api_key, lambda client: client.list_companies(), client_factory)


def list_codat_connections(base_url: str, api_key: str | None, company_id: str, *,
                           client_factory: ClientFactory = default_client) -> CheckResult:
    from codatdesk.engine.connections import accounting_connections

    # Direct costs go to the accounting software: banking and expense connections are not offered.
    return _ask(base_url, api_key, lambda client: accounting_connections(client.list_connections(company_id)),
                client_factory)


def _ask(base_url: str, api_key: str | None, question: Callable[[Any], list[Any]], factory: ClientFactory) -> CheckResult:
    try:
        client = factory(api_key or secrets.require(secrets.API_KEY), base_url)
        try:
            return CheckResult(tuple(question(client)))
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - every failure becomes words on the screen, never a crash
        return CheckResult(reason=reason(exc), fix=fix(exc))


def reason(error: BaseException) -> str:
    """What went wrong, in a few words (a title)."""
    if isinstance(error, secrets.KeyringProblem):
        return "The keyring cannot be used"
    if isinstance(error, secrets.SecretMissing):
        return "No Codat API key yet"
    if isinstance(error, CodatAuthError):
        return "Codat refused the API key"
    if isinstance(error, CodatRateLimited):
        return "Codat asks us to wait"
    if isinstance(error, CodatNotFound):
        return "Not found in Codat"
    if isinstance(error, (CodatUnavailable, httpx.TransportError)):
        return "Cannot reach Codat"
    if isinstance(error, CodatError):
        return "Codat reported a problem"
    if isinstance(error, OSError):
        return "The settings could not be written"
    return "Something went wrong"


def fix(error: BaseException) -> str:
    """What to do about it."""
    if isinstance(error, secrets.KeyringProblem):
        return str(error)
    if isinstance(error, secrets.SecretMissing):
        return "Paste your API key from the Codat portal (Developers › API keys), then try again."
    if isinstance(error, CodatAuthError):
        return f"Codat did not accept the API key (HTTP {error.status}). Check it in the Codat portal: {error.message}"
    if isinstance(error, CodatRateLimited):
        return f"Too many requests: {error.message}. Try again in a minute."
    if isinstance(error, CodatNotFound):
        return f"{error.message}. Check the API base URL and the company."
    if isinstance(error, (CodatUnavailable, httpx.TransportError)):
        return f"{error}. Check the API base URL, the internet connection or the proxy, then try again."
    if isinstance(error, CodatError):
        return error.message
    if isinstance(error, OSError):
        return f"{error}. Check that the folder can be written, then save again."
    return f"{error or type(error).__name__}. The details are in the log (Help › Open log folder)."


# -- secrets ---------------------------------------------------------------------------------


def rotate_signing_secret(new: str, previous: str | None = None) -> None:
    """Accept ``new`` and, during Codat's rotation, one older secret: ``previous`` when typed, else
    the secret ``new`` replaces (Codat signs with the old one for a while)."""
    current = secrets.signing_secrets()
    keep = previous or (current[0] if current and current[0] != new else None)
    secrets.set_signing_secrets([new, *([keep] if keep else [])])


def set_previous_signing_secret(previous: str) -> None:
    """Keep the current secret and accept ``previous`` beside it."""
    secrets.set_signing_secrets([*secrets.signing_secrets()[:1], previous])


def save_credentials(typed: Mapping[str, str]) -> None:
    """Write what the user typed to the keyring (raises ``KeyringProblem``); an untyped secret stays."""
    for name, value in typed.items():
        if name == secrets.WEBHOOK_SECRETS:
            rotate_signing_secret(value, typed.get(PREVIOUS_SIGNING_SECRET))
        elif name == PREVIOUS_SIGNING_SECRET:
            if secrets.WEBHOOK_SECRETS not in typed:  # else rotate_signing_secret kept it
                set_previous_signing_secret(value)
        else:
            secrets.put(name, value)


def stored_secrets(names: Collection[str]) -> dict[str, bool]:
    """Which of these secrets the keyring holds (values stay there); raises ``KeyringProblem``."""
    stored = {name: bool(secrets.get(name)) for name in names
              if name not in (PREVIOUS_SIGNING_SECRET, secrets.WEBHOOK_SECRETS)}
    if secrets.WEBHOOK_SECRETS in names or PREVIOUS_SIGNING_SECRET in names:
        accepted = secrets.signing_secrets()
        stored[secrets.WEBHOOK_SECRETS] = bool(accepted)
        stored[PREVIOUS_SIGNING_SECRET] = len(accepted) > 1
    return stored


def save_settings(settings: Settings, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> SaveResult:
    """Secrets first (a keyring that refuses leaves the file untouched), then the changed values."""
    changed = frozenset(key for key, value in values.items() if value != settings.get(key))
    try:
        save_credentials(typed_secrets)
        if changed:
            settings.update({key: values[key] for key in changed})
    except Exception as exc:  # noqa: BLE001 - the screen says why; nothing is half-explained
        return SaveResult(reason=reason(exc), fix=fix(exc))
    return SaveResult(changed, frozenset(typed_secrets))


@dataclass
class Standalone:
    """The actions without a core (the first-run wizard, or a dialog opened before the core started)."""

    settings: Settings
    client_factory: ClientFactory = field(default=default_client)

    def check_api_key(self, base_url: str, api_key: str | None) -> CheckResult:
        return check_api_key(base_url, api_key, client_factory=self.client_factory)

    def list_codat_connections(self, base_url: str, api_key: str | None, company_id: str) -> CheckResult:
        return list_codat_connections(base_url, api_key, company_id, client_factory=self.client_factory)

    def save_settings(self, values: Mapping[str, Any], typed_secrets: Mapping[str, str]) -> SaveResult:
        return save_settings(self.settings, values, typed_secrets)
