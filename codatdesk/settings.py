"""The typed settings registry: every non-secret setting, its type, default and meaning.

Values live in ``settings.json`` in the data directory; an environment variable
``CODATDESK_<KEY>`` (dots become underscores, e.g. ``CODATDESK_LISTENER_PORT``)
overrides the file, for headless servers. Secrets never live here: see
:mod:`codatdesk.secrets`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codatdesk import paths


class SettingError(ValueError):
    pass


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def env_name(self) -> str:
        return "CODATDESK_" + self.key.upper().replace(".", "_")

    def coerce(self, value: Any) -> Any:
        if value is None or value == "":
            if self.default is None or self.type is str:
                return None if self.default is None else ""
            raise SettingError(f"{self.key}: a value is required")
        try:
            if self.type is bool:
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = lowered in ("1", "true", "yes", "on")
                else:
                    value = bool(value)
            elif self.type is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                value = int(value)
            elif self.type is float:
                value = float(value)
            else:
                value = str(value).strip()
        except (TypeError, ValueError):
            raise SettingError(f"{self.key}: {value!r} is not a valid {self.type.__name__}") from None
        if self.choices and value not in self.choices:
            raise SettingError(f"{self.key}: {value!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise SettingError(f"{self.key}: {value} is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise SettingError(f"{self.key}: {value} is above the maximum {self.maximum:g}")
        return value


REGISTRY: tuple[Setting, ...] = (
    Setting("codat.base_url", str, "https://api.codat.io", "Codat API base URL."),
    Setting("codat.company_id", str, None, "Codat company the expenses are pushed for."),
    Setting("codat.connection_id", str, None, "Accounting data connection of that company."),
    Setting("codat.reference_max_age_hours", int, 24, "Codat's lists (accounts, suppliers, tax rates) older than "
            "this are read again when the Mapping tab is shown.", minimum=1),
    Setting("listener.port", int, 8765, "Loopback port of the webhook listener (0: any free port).", minimum=0,
            maximum=65535),
    Setting("listener.path", str, "/webhooks/codat", "URL path Codat posts webhooks to."),
    Setting("listener.max_body_bytes", int, 256 * 1024, "Largest webhook body accepted (413 above).", minimum=1024),
    Setting("listener.read_timeout", float, 5.0, "Seconds a client may take to send a request.", minimum=0.1, maximum=14),
    Setting("listener.max_concurrency", int, 64, "Concurrent webhook requests (503 above).", minimum=1),
    Setting("webhook.require_signature", bool, True, "Require a valid Standard Webhooks (Svix) signature."),
    Setting("webhook.authorization", str, "none", "Also require an Authorization header: none, basic or bearer.",
            choices=("none", "basic", "bearer")),
    Setting("webhook.retention_days", int, 90, "Days a webhook body and a tunnel self-test delivery are kept "
            "(the delivery's id and verdict stay; nothing an open push still needs goes).", minimum=1),
    Setting("push.concurrency", int, 10, "Concurrent Codat requests per company (Codat allows 10).", minimum=1, maximum=10),
    Setting("push.timeout_in_minutes", int, None, "timeoutInMinutes sent with each push (empty: Codat's default).", minimum=1),
    Setting("reconcile.interval_seconds", int, 300, "How often operations in progress are checked with Codat.", minimum=5),
    Setting("reconcile.threshold_seconds", int, 120, "Age after which an operation in progress is checked.", minimum=0),
    Setting("tunnel.provider", str, "none", "Tunnel that makes the listener public: none, manual, cloudflared, ngrok.",
            choices=("none", "manual", "cloudflared", "ngrok")),
    Setting("tunnel.public_url", str, "", "Public URL of a tunnel run elsewhere (manual provider)."),
    Setting("tunnel.hostname", str, "", "Stable hostname: a named cloudflared tunnel or a reserved ngrok domain."),
    Setting("tunnel.cloudflared_path", str, "cloudflared", "Path to the cloudflared binary."),
    Setting("tunnel.ngrok_path", str, "ngrok", "Path to the ngrok binary."),
    Setting("tunnel.health_interval_seconds", int, 60, "How often a signed test delivery checks the tunnel.", minimum=5),
    Setting("ui.last_company_id", str, None, "Company shown when the window opens."),
    Setting("database.url", str, "", "Where expenses are kept: empty for the file in the data folder (one person), "
            "postgresql://USER@HOST/DB for a team's shared database (its password in the keyring as "
            "database_password; docs/team.md)."),
)
BY_KEY = {s.key: s for s in REGISTRY}


class Settings:
    """Settings file plus environment overrides. Thread-safe enough for a settings file:
    reads are dict lookups; writes replace the file atomically."""

    def __init__(self, path: Path | None = None, environ: dict[str, str] | None = None) -> None:
        self.path = path or paths.settings_path()
        self._environ = os.environ if environ is None else environ
        self._values: dict[str, Any] = {}
        self._saved_listeners: list[Callable[[], None]] = []
        self.load()

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every save (a cache of what Settings can change forgets it)."""
        self._saved_listeners.append(listener)

    def load(self) -> None:
        if not self.path.exists():
            self._values = {}
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingError(f"cannot read {self.path}: {exc}") from None
        if not isinstance(raw, dict):
            raise SettingError(f"{self.path} does not hold a JSON object")
        self._values = {k: BY_KEY[k].coerce(v) for k, v in raw.items() if k in BY_KEY}

    def get(self, key: str) -> Any:
        setting = BY_KEY[key]
        env = self._environ.get(setting.env_name)
        if env is not None:
            return setting.coerce(env)
        return self._values.get(key, setting.default)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def set(self, key: str, value: Any, *, save: bool = True) -> None:
        if key not in BY_KEY:
            raise SettingError(f"unknown setting {key!r}")
        self._values[key] = BY_KEY[key].coerce(value)
        if save:
            self.save()

    def update(self, values: dict[str, Any]) -> None:
        coerced = {}
        for key, value in values.items():
            if key not in BY_KEY:
                raise SettingError(f"unknown setting {key!r}")
            coerced[key] = BY_KEY[key].coerce(value)
        self._values.update(coerced)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".settings-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp made it 0600: only its owner reads it
            json.dump(self._values, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, self.path)
        for listener in list(self._saved_listeners):
            listener()
