"""What a tunnel provider that runs a binary must tell the supervisor.

A provider knows its command line and how to read its own output; the
supervisor (:class:`codatdesk.tunnel.service.TunnelService`) owns the process,
the restarts and the events. Each process run gets a fresh ``ProviderRun`` that
turns output lines into calls on a :class:`RunSink`.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from typing import Protocol

# Our own credentials must not leak into a third-party child's environment.
_SECRET_ENV = ("CODATDESK_API_KEY", "CODATDESK_WEBHOOK_SECRETS", "CODATDESK_WEBHOOK_BASIC",
               "CODATDESK_WEBHOOK_BEARER", "NGROK_AUTHTOKEN")


class RunSink(Protocol):
    def url_found(self, url: str) -> None:
        """The public URL of this run (may repeat)."""

    def ready(self) -> None:
        """The tunnel is connected to the provider's edge."""

    def fatal(self, message: str) -> None:
        """The user must act (bad token, bad config): stop and do not restart."""

    def problem(self, message: str) -> None:
        """An error line, shown if the process dies."""

    def alive(self) -> bool:
        """False once this run is over (for discovery threads)."""


class ProviderRun:
    def on_line(self, stream: str, line: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The process has exited; stop any helper threads."""


class ProcessProvider(ABC):
    name: str  # binary name as users know it
    path_setting: str  # settings key holding the binary path
    install_url: str

    def __init__(self, settings) -> None:
        self.settings = settings

    @property
    def configured_path(self) -> str:
        return str(self.settings.get(self.path_setting) or self.name)

    def resolve_binary(self) -> str | None:
        """Absolute path of the binary, or None when it is not there or not executable."""
        return shutil.which(os.path.expanduser(self.configured_path))

    def missing_binary_message(self) -> str:
        return (f"{self.name} was not found at '{self.configured_path}'. Install it from {self.install_url} "
                f"or set its path in Settings > Tunnel.")

    def stable_url(self) -> str | None:
        """The public URL when it is known before the process runs (named tunnel, reserved domain)."""
        return None

    def preflight(self) -> str | None:
        """A plain-words reason this provider cannot start, or None."""
        return None

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
        env.update(self.extra_env())
        return env

    def extra_env(self) -> dict[str, str]:
        return {}

    def secret_values(self) -> list[str]:
        """Values to redact from anything logged or shown."""
        return []

    def redact(self, text: str) -> str:
        for secret in self.secret_values():
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    @abstractmethod
    def argv(self, binary: str, local_url: str) -> list[str]: ...

    @abstractmethod
    def new_run(self, sink: RunSink) -> ProviderRun: ...
