"""TunnelStack: the tunnel, its health check and the Codat registration wired together for Core.

* The tunnel's URL changes go to the registrar (re-registers only once the user has
  registered; never on the thread reading the tunnel's output).
* The health check runs every ``tunnel.health_interval_seconds`` and once as soon as
  the tunnel comes up; with provider ``none`` it does not run at all.
* Self-tests are signed with the newest signing secret and carry the Authorization
  header the listener requires (``webhook.authorization``), like Codat's deliveries.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codatdesk import secrets
from codatdesk.events import EventBus, TunnelHealthChanged, TunnelStateChanged

from .health import HealthChecker
from .registration import WebhookRegistrar
from .service import TunnelService
from .state import OFF, UP


def authorization_header(mode: str, credentials: secrets.WebhookCredentials) -> str | None:
    """The Authorization value Codat's Portal would send for the listener's ``webhook.authorization``."""
    if mode == "basic" and credentials.basic:
        return "Basic " + base64.b64encode(credentials.basic.encode("utf-8")).decode("ascii")
    if mode == "bearer" and credentials.bearer:
        token = credentials.bearer.strip()
        return token if token.lower().startswith("bearer ") else "Bearer " + token
    return None


class TunnelStack:
    def __init__(
        self,
        settings,
        local_url: str,
        bus: EventBus,
        client_factory: Callable[[], Any],
        *,
        webhook_credentials: Callable[[], secrets.WebhookCredentials] = secrets.webhook_credentials,
        state_path: Path | None = None,
        ngrok_authtoken: Callable[[], str | None] | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self._credentials = webhook_credentials
        self.registrar = WebhookRegistrar(client_factory, bus, state_path)
        self.tunnel = TunnelService(settings, local_url, bus, on_url_change=self._url_changed,
                                    ngrok_authtoken=ngrok_authtoken)
        self.health = HealthChecker(
            lambda: self.tunnel.public_webhook_url, self._newest_secret, bus,
            interval=float(settings.get("tunnel.health_interval_seconds")),
            tunnel_state=lambda: self.tunnel.state, authorization=self._authorization)
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.bus.subscribe(self._on_event)
        self.health.interval = float(self.settings.get("tunnel.health_interval_seconds"))
        if str(self.settings.get("tunnel.provider") or "none") == "none":
            self.bus.publish(TunnelHealthChanged(OFF, "no tunnel is configured"))
        else:
            self.health.start()
        self.tunnel.start()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.health.stop()
        self.tunnel.stop()

    def restart(self) -> None:
        """Apply changed tunnel settings."""
        self.stop()
        self.start()

    def register_webhook(self) -> dict:
        """The user's *Register webhook*: blocking HTTP, call it from a worker thread."""
        url = self.tunnel.public_webhook_url
        if not url:
            raise RuntimeError("The tunnel has no public address yet: " + (self.tunnel.state.message or "not running"))
        return self.registrar.ensure_registered(url)

    def delivery_seen(self, delivery_id: str) -> None:
        self.health.delivery_seen(delivery_id)

    # ------------------------------------------------------------------ internals

    def _url_changed(self, public_url: str | None) -> None:
        if public_url:
            self.registrar.reregister_if_needed(self.tunnel.public_webhook_url)

    def _on_event(self, event: object) -> None:
        if isinstance(event, TunnelStateChanged) and event.state.status == UP:
            self.health.check_soon()

    def _newest_secret(self) -> str | None:
        try:
            found = self._credentials().signing_secrets
        except secrets.KeyringProblem:
            return None
        return found[0] if found else None

    def _authorization(self) -> str | None:
        try:
            return authorization_header(str(self.settings.get("webhook.authorization") or "none"),
                                        self._credentials())
        except secrets.KeyringProblem:
            return None
