"""WebhookRegistrar: keeps exactly one Codat webhook consumer pointing at our public URL.

Codat's API cannot update a consumer and never returns its signing secret. So when
the public URL changes we create a consumer for the new URL, then delete the ones
we created earlier for old URLs, and tell the user to paste the new endpoint's
signing secret (Codat Portal) into Settings. ``accept_new_secret`` adds it next to
the previous one (``secrets.add_signing_secret`` keeps both during the switch).

Which consumers are "ours" is remembered in a small JSON file in the data dir
(ids and URLs only; no secrets). Consumers with the same listener path that we did
not create (another install on the same Codat account) are reported, never deleted.

The consumer asks Codat only for the companies this installation serves: it is registered
with one company tag of this installation, and each served company carries that tag
(``codatdesk.webhooks.scope`` says why and cites Codat's rules). The installation id lives
in the same JSON file. Companies are tagged before the consumer is created, so no event of
theirs is filtered out in between; ``tag_company`` tags one more company later.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codatdesk import secrets
from codatdesk.events import EventBus, Notice, WebhookRegistrationChanged
from codatdesk.webhooks import scope

from .urls import url_path

log = logging.getLogger(__name__)

TOPIC = "webhook_registration"
STATE_FILE_NAME = "webhook_consumers.json"
APP_EVENT_TYPES: tuple[str, ...] = (
    "directCosts.write.successful",
    "directCosts.write.unsuccessful",
    "chartOfAccounts.write.successful",
    "chartOfAccounts.write.unsuccessful",
    "suppliers.write.successful",  # a supplier codatdesk creates before its expenses
    "suppliers.write.unsuccessful",
    "connection.created",
    "connection.connected",
    "connection.disconnected",
    "connection.reconnected",
    "connection.failed",
    "connection.deleted",
)
MAX_ABSENT_REMEMBERED = 10
PORTAL_HINT = "Codat Portal > Monitor > Webhooks > Events > the endpoint > Signing secret"


def default_state_path() -> Path:
    from codatdesk import paths

    return paths.data_dir() / STATE_FILE_NAME


class WebhookRegistrar:
    """``client_factory`` returns a CodatClient; it is not closed here (the core shares one)."""

    def __init__(self, client_factory: Callable[[], Any], bus: EventBus, state_path: Path | None = None,
                 *, event_types: tuple[str, ...] = APP_EVENT_TYPES,
                 served_companies: Callable[[], list[str]] | None = None) -> None:
        self._client_factory = client_factory
        self.bus = bus
        self.state_path = Path(state_path) if state_path else default_state_path()
        self.event_types = tuple(event_types)
        # The Codat companies to receive events for (the core sets it; none: the tag alone is registered).
        self.served_companies: Callable[[], list[str]] = served_companies or list
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ remembered consumers

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("cannot read %s (%s); treating it as empty", self.state_path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def remembered(self) -> list[dict[str, Any]]:
        """Consumers we created, as recorded locally: [{id, url, registered_at, secret_pending}]."""
        consumers = self._read_state().get("consumers")
        return [c for c in consumers or [] if isinstance(c, dict) and c.get("id")]

    @property
    def install_id(self) -> str:
        """This installation's id (made once, kept with the consumers): the key of its company tag."""
        with self._lock:
            install_id = self._read_state().get("install_id")
            if not isinstance(install_id, str) or not install_id:
                install_id = uuid.uuid4().hex[:12]
                self._save(self.remembered(), install_id=install_id)
            return install_id

    @property
    def company_tags(self) -> list[str]:
        """The consumer's ``companyTags``: this installation's one tag."""
        return [scope.consumer_tag(self.install_id)]

    @property
    def is_registered(self) -> bool:
        """True once the user registered a webhook (so URL changes re-register automatically)."""
        return bool(self.remembered())

    @property
    def secret_pending(self) -> bool:
        """A consumer was created whose signing secret the user has not entered yet."""
        return any(c.get("secret_pending") for c in self.remembered())

    def _save(self, consumers: list[dict[str, Any]], *, install_id: str | None = None) -> None:
        install_id = install_id or self._read_state().get("install_id")
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".webhook-consumers-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"consumers": consumers, **({"install_id": install_id} if install_id else {})}, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, self.state_path)

    # ------------------------------------------------------------------ Codat side

    def consumers_pointing_elsewhere(self, url: str) -> list[dict[str, Any]]:
        """Our consumers (recorded ids) that still exist in Codat and point at another URL."""
        ours = {c["id"] for c in self.remembered()}
        return [c for c in self._client_factory().list_webhook_consumers()
                if c.get("id") in ours and c.get("url") != url]

    def ensure_registered(self, public_webhook_url: str) -> dict[str, Any]:
        """Make sure one consumer of ours points at ``public_webhook_url``; return it.

        Creates it if needed (then deletes our consumers for old URLs). Raises the
        client's CodatError if Codat refuses; a Notice explains it either way.
        """
        url = public_webhook_url.rstrip("/")
        with self._lock:
            try:
                client = self._client_factory()  # may raise SecretMissing (no API key yet)
                existing = client.list_webhook_consumers()
            except Exception as exc:
                self._notice("error", f"Could not read the webhook registrations from Codat: {exc}")
                raise
            remembered = {c["id"]: c for c in self.remembered()}
            tags = self.company_tags
            current = next((c for c in existing if c.get("url") == url and not self._missing_types(c)
                            and sorted(c.get("companyTags") or []) == tags), None)
            created = False
            if current is None:
                # Tagged first: once the consumer filters, an untagged served company's events are lost.
                self.tag_served_companies(client)
                try:
                    current = client.create_webhook_consumer(url, self.event_types, tags)
                except Exception as exc:
                    self._notice("error", f"Could not register the webhook {url} with Codat: {exc}")
                    raise
                created = True
                log.info("registered webhook consumer %s for %s", current.get("id"), url)
            entry = remembered.get(current["id"]) or {
                "id": current["id"], "url": url, "registered_at": _now(), "secret_pending": created}
            if created:
                entry["secret_pending"] = True
            # Our other recorded consumers point at old URLs (or duplicate this one): delete them.
            # Recorded ids this Codat account does not list are kept (a few): they may belong to
            # another base URL (sandbox vs production) and are cleaned up when we are back there.
            existing_ids = {c.get("id") for c in existing}
            absent = [c for cid, c in remembered.items() if cid not in existing_ids and cid != current["id"]]
            kept = [entry]
            removed: list[str] = []
            for consumer in existing:
                cid = consumer.get("id")
                if cid == current["id"] or cid not in remembered:
                    continue
                try:
                    client.delete_webhook_consumer(cid)
                    removed.append(str(consumer.get("url")))
                except Exception as exc:  # noqa: BLE001 - registration must never stop the tunnel; the failure is reported
                    log.warning("could not delete old webhook consumer %s: %s", cid, exc)
                    kept.append(remembered[cid])
                    self._notice("warning", f"Could not remove the old webhook registration for "
                                            f"{consumer.get('url')} from Codat ({exc}); will try again.")
            self._save(kept + absent[-MAX_ABSENT_REMEMBERED:])
            foreign = [c for c in existing if c.get("id") not in remembered and c.get("id") != current["id"]
                       and url_path(str(c.get("url", ""))) == url_path(url) and c.get("url") != url]
        self._report(current, created, removed, foreign)
        return current

    def reregister_if_needed(self, public_webhook_url: str | None) -> dict[str, Any] | None:
        """For the tunnel's URL-change callback: follow the URL once the user has registered.

        Never raises (runs on a background thread); problems become Notices.
        """
        if not public_webhook_url:
            return None
        if not self.is_registered:
            self._notice("info", f"Codat can reach this computer at {public_webhook_url}. Use Register webhook "
                                 "(Settings > Tunnel) so Codat sends push results there.")
            return None
        try:
            return self.ensure_registered(public_webhook_url)
        except Exception as exc:  # noqa: BLE001 - registration must never stop the tunnel; the failure is reported
            log.warning("re-registration failed: %s", exc)
            return None

    def unregister(self) -> int:
        """Delete every consumer we created; returns how many Codat deleted."""
        with self._lock:
            client = self._client_factory()
            existing = {c.get("id") for c in client.list_webhook_consumers()}
            deleted, kept = 0, []
            for entry in self.remembered():
                if entry["id"] not in existing:
                    continue
                try:
                    client.delete_webhook_consumer(entry["id"])
                    deleted += 1
                except Exception as exc:  # noqa: BLE001 - registration must never stop the tunnel; the failure is reported
                    kept.append(entry)
                    self._notice("warning", f"Could not remove the webhook registration {entry['url']}: {exc}")
            self._save(kept)
        self.bus.publish(WebhookRegistrationChanged(registered=bool(kept)))
        return deleted

    def accept_new_secret(self, secret: str) -> None:
        """The user pasted the new endpoint's signing secret: accept it next to the previous one."""
        secrets.add_signing_secret(secret.strip())
        with self._lock:
            entries = self.remembered()
            for entry in entries:
                entry["secret_pending"] = False
            self._save(entries)
        self._notice("info", "The new webhook signing secret is saved; the previous one is still accepted "
                             "for deliveries already on their way.")

    # ------------------------------------------------------------------ company tags

    def tag_served_companies(self, client: Any | None = None) -> list[str]:
        """Tag every served company; returns those that could not be tagged (each named in a notice)."""
        client = client or self._client_factory()
        return [c for c in dict.fromkeys(self.served_companies()) if not self.tag_company(c, client)]

    def tag_company(self, company_id: str, client: Any | None = None) -> bool:
        """Give ``company_id`` this installation's tag in Codat (Update company), keeping its other
        tags; True when it carries it. Never raises: a failure is a notice."""
        try:
            client = client or self._client_factory()
            tags = scope.with_our_tag((client.get_company(company_id) or {}).get("tags"), self.install_id)
            if tags is not None:
                client.update_company_tags(company_id, tags)
                log.info("tagged company %s for this installation's webhooks", company_id)
            return True
        except Exception as exc:  # noqa: BLE001 - a worker thread: any failure becomes the notice below
            log.warning("could not tag company %s: %s", company_id, exc)
            self._notice("warning", f"Codat will not send webhooks for company {company_id}: codatdesk could not "
                                    f"mark it as one of this app's companies ({exc}). Push results still arrive "
                                    "through reconciliation, only later; free one of its tags in the Codat Portal "
                                    "and register the webhook again to get them at once.")
            return False

    # ------------------------------------------------------------------ helpers

    def _missing_types(self, consumer: dict[str, Any]) -> set[str]:
        return set(self.event_types) - set(consumer.get("eventTypes") or [])

    def _report(self, consumer: dict[str, Any], created: bool, removed: list[str],
                foreign: list[dict[str, Any]]) -> None:
        url = consumer.get("url")
        self.bus.publish(WebhookRegistrationChanged(True, consumer.get("id"), url, bool(self.secret_pending),
                                                    bool(consumer.get("disabled"))))
        if created:
            moved = f" (it replaces the registration for {', '.join(removed)})" if removed else ""
            self._notice("warning",
                         f"Registered the webhook {url} with Codat{moved}. Codat gave this endpoint a new signing "
                         f"secret, which its API does not return: copy it from the {PORTAL_HINT} and paste it "
                         "into Settings. Until then deliveries to the new address fail their signature check and "
                         "Codat retries them (for about 28 hours); the previous secret stays accepted as well.")
        if consumer.get("disabled"):
            self._notice("warning", f"Codat has disabled the webhook endpoint {url} (usually after 5 days of "
                                    "failed deliveries). Re-enable it in the Codat Portal (Monitor > Webhooks).")
        if foreign:
            urls = ", ".join(sorted(str(c.get("url")) for c in foreign))
            self._notice("info", f"Other webhook registrations use the same path but another address: {urls}. "
                                 "They were not created by this installation, so they were left alone; remove them "
                                 "in the Codat Portal if they are stale.")

    def _notice(self, level: str, message: str) -> None:
        self.bus.publish(Notice(level, message, topic=TOPIC))


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
