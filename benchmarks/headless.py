"""A headless Core against the sandbox in its own process (B3, B6)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.sandbox_proc import RemoteSandbox
from codatdesk.demo import DEMO_EVENT_TYPES
from codatdesk.engine.core import Core
from codatdesk.events import Notice


@dataclass
class RateLimitWatch:
    """Counts the core's "Codat asked us to slow down" notices: one per 429 it waited on."""

    waits: int = 0
    notices: list[str] = field(default_factory=list)

    def __call__(self, event) -> None:
        if isinstance(event, Notice) and event.topic == "ratelimit":
            self.waits += 1


def codat_auth(sandbox: RemoteSandbox) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(sandbox.api_key.encode()).decode()}


def register_consumer(sandbox: RemoteSandbox, url: str, secrets: list[str]) -> str:
    """Point the sandbox's webhooks at ``url``; the signing secret goes into ``secrets``."""
    response = httpx.post(sandbox.base_url + "/webhooks", headers=codat_auth(sandbox), timeout=30,
                          json={"url": url, "eventTypes": DEMO_EVENT_TYPES})
    response.raise_for_status()
    consumer_id = response.json()["id"]
    secrets.append(sandbox.consumer_secret(consumer_id))
    return consumer_id


def delete_consumer(sandbox: RemoteSandbox, consumer_id: str) -> None:
    httpx.delete(f"{sandbox.base_url}/webhooks/{consumer_id}", headers=codat_auth(sandbox),
                 timeout=30).raise_for_status()


def core_for(home: Path, sandbox: RemoteSandbox, *, listen: bool, secrets: list[str] | None = None,
             db=None) -> Core:
    from benchmarks.setup import make_core

    return make_core(home, base_url=sandbox.base_url, api_key=sandbox.api_key, company_id=sandbox.company_id,
                     connection_id=sandbox.connection_id, secrets=secrets, listen=listen, db=db)


def count_status(db, statuses: tuple[str, ...]) -> int:
    marks = ",".join("?" * len(statuses))
    with db.connect() as conn:
        return conn.exec_driver_sql(f"SELECT COUNT(*) FROM expense WHERE status IN ({marks})",
                                    tuple(statuses)).scalar()
