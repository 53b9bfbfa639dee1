"""Webhook bodies (current envelope and legacy rule bodies) and their delivery with retries.

Delivery runs on the sandbox's engine loop, never on a request handler: each message to
each consumer is its own task. An attempt is an HTTP POST with a 15 s timeout; any 2xx
is delivered, anything else (or a transport error/timeout) waits for the next delay of
``retry_schedule`` and tries again, until the schedule is used up: then it is abandoned.

Current envelope: ``{id, eventType, generatedDate, payload}``, signed per Standard Webhooks
(``webhook-id`` = ``msg_...`` stable across retries and duplicates, ``webhook-timestamp``
refreshed per attempt, ``webhook-signature`` = ``v1,<base64 HMAC>`` with the consumer secret).
Legacy mode: Codat's old rule bodies, no signature headers.
"""

from __future__ import annotations

import asyncio
import base64
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from .config import SandboxConfig
from .jsonio import codat_time, dumps
from .state import Consumer, IdFactory, PushRecord, SandboxState

DELIVERY_TIMEOUT = 15.0
LEGACY_CLIENT_ID = "0f8a6a3b-5d0e-4c7e-9d61-7f3f0c2b9a11"
LEGACY_CLIENT_NAME = "codatdesk sandbox"

LEGACY_PUSH_EVENT = "PushOperationStatusChanged"
LEGACY_CONNECTION_EVENT = "DataConnectionStatusChanged"


@dataclass
class Message:
    """One event to publish: the current body and its legacy equivalent."""

    event_type: str
    body: dict[str, Any]
    legacy_event_type: str | None
    legacy_body: dict[str, Any] | None
    company_tags: dict[str, str] | None
    msg_id: str = ""


@dataclass
class Attempt:
    msg_id: str
    consumer_id: str
    event_type: str
    attempt: int
    at: float
    status_code: int | None = None
    error: str | None = None


@dataclass
class DeliveryLog:
    """What happened to deliveries; read by tests and the /_sandbox/deliveries endpoint."""

    attempts: list[Attempt] = field(default_factory=list)
    delivered: list[tuple[str, str]] = field(default_factory=list)   # (msg_id, consumer_id)
    abandoned: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    duplicated: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": [vars(a) for a in self.attempts],
            "delivered": [list(pair) for pair in self.delivered],
            "abandoned": [list(pair) for pair in self.abandoned],
            "dropped": [list(pair) for pair in self.dropped],
            "duplicated": [list(pair) for pair in self.duplicated],
        }


# -- bodies -----------------------------------------------------------------------------

def write_message(record: PushRecord, company_reference: dict[str, Any], event_id: str) -> Message:
    outcome = "successful" if record.status == "Success" else "unsuccessful"
    payload: dict[str, Any] = {
        "id": record.key,
        "type": "Create",
        "referenceCompany": company_reference,
        "connectionId": record.connection_id,
        "requestedOnDate": record.requested_on,
        "completedOnDate": record.completed_on,
        "status": record.status,
    }
    if record.record_id:
        payload["record"] = {"id": record.record_id}
    event_type = f"{record.data_type}.write.{outcome}"
    legacy = {
        "ClientId": LEGACY_CLIENT_ID,
        "ClientName": LEGACY_CLIENT_NAME,
        "CompanyId": record.company_id,
        "DataConnectionId": record.connection_id,
        "RuleId": None,  # set per consumer at delivery
        "RuleType": "Push Operation Status Changed()",
        "AlertId": event_id,
        "Message": f"{record.data_type} triggered notification for PushOperationStatusChanged at {record.completed_on}",
        "Data": {"dataType": record.data_type, "status": record.status, "pushOperationKey": record.key},
    }
    return Message(
        event_type=event_type,
        body={"id": event_id, "eventType": event_type, "generatedDate": codat_time(), "payload": payload},
        legacy_event_type=LEGACY_PUSH_EVENT,
        legacy_body=legacy,
        company_tags=company_reference.get("tags"),
    )


def connection_event_type(old: str, new: str) -> str | None:
    if new == old:
        return None
    if new == "Linked":
        return "connection.connected" if old == "PendingAuth" else "connection.reconnected"
    if new in ("Unlinked", "Deauthorized"):
        return "connection.disconnected"
    if new == "PendingAuth":
        return "connection.created"
    return None


def connection_message(event_type: str, old: str, connection: dict[str, Any], company_reference: dict[str, Any],
                       event_id: str) -> Message:
    legacy = {
        "ClientId": LEGACY_CLIENT_ID,
        "ClientName": LEGACY_CLIENT_NAME,
        "CompanyId": company_reference["id"],
        "DataConnectionId": connection["id"],
        "RuleId": None,  # set per consumer at delivery
        "RuleType": "DataConnectionStatusChanged",
        "AlertId": event_id,
        "Message": f"Data connection for {connection['platformName']} status changed from {old} to {connection['status']}",
        "Data": {"dataConnectionId": connection["id"], "newStatus": connection["status"], "oldStatus": old,
                 "platformKey": connection["integrationKey"]},
    }
    return Message(
        event_type=event_type,
        body={"id": event_id, "eventType": event_type, "generatedDate": codat_time(),
              "payload": {"referenceCompany": company_reference, "connection": connection}},
        legacy_event_type=LEGACY_CONNECTION_EVENT,
        legacy_body=legacy,
        company_tags=company_reference.get("tags"),
    )


def company_message(company: dict[str, Any], event_id: str) -> Message:
    details = {key: value for key, value in company.items() if key != "dataConnections"}
    return Message(
        event_type="company.created",
        body={"id": event_id, "eventType": "company.created", "generatedDate": codat_time(), "payload": details},
        legacy_event_type=None,
        legacy_body=None,
        company_tags=company.get("tags"),
    )


def new_secret(ids: IdFactory) -> str:
    return "whsec_" + base64.b64encode(ids.token(24)).decode("ascii")


# -- delivery ---------------------------------------------------------------------------

class Deliverer:
    """Fans messages out to subscribed consumers on the engine loop."""

    def __init__(self, state: SandboxState, config: SandboxConfig, ids: IdFactory,
                 loop: asyncio.AbstractEventLoop, on_idle_change: Callable[[], None]) -> None:
        self._state = state
        self.config = config
        self._ids = ids
        self._loop = loop
        self._notify = on_idle_change
        self._rng = random.Random(f"delivery:{config.seed}") if config.seed is not None else random.SystemRandom()
        self._lock = threading.Lock()
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.log = DeliveryLog()
        self.on_attempt: Callable[[Attempt, str], None] | None = None  # (attempt, url), e.g. CLI logging

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    def publish(self, message: Message) -> None:
        """Thread-safe: choose recipients now, deliver on the engine loop."""
        message.msg_id = "msg_" + self._ids.uuid().replace("-", "")
        legacy = self.config.legacy_webhooks
        with self._state.lock:
            consumers = [
                consumer for consumer in self._state.consumers.values()
                if consumer.wants(message.event_type, message.company_tags)
                or (legacy and message.legacy_event_type is not None
                    and consumer.wants(message.legacy_event_type, message.company_tags))
            ]
        if legacy and message.legacy_body is None:
            return  # no legacy equivalent (e.g. company.created): legacy tenants got nothing
        for consumer in consumers:
            with self._lock:
                roll_drop, roll_dup = self._rng.random(), self._rng.random()
                jitters = [self._rng.uniform(0, 0.3) if self.config.shuffle else 0.0 for _ in range(2)]
            if roll_drop < self.config.drop_share:
                self.log.dropped.append((message.msg_id, consumer.id))
                continue
            copies = 2 if roll_dup < self.config.duplicate_share else 1
            if copies == 2:
                self.log.duplicated.append((message.msg_id, consumer.id))
            for copy in range(copies):
                with self._lock:
                    self._active += 1
                delay = jitters[copy] + (0.05 * copy)
                self._loop.call_soon_threadsafe(self._start, consumer.id, message, legacy, delay)

    def _start(self, consumer_id: str, message: Message, legacy: bool, delay: float) -> None:
        task = self._loop.create_task(self._deliver(consumer_id, message, legacy, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _headers(self, consumer: Consumer, message: Message, raw: str, legacy: bool) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "codatdesk-sandbox/1.0"}
        if legacy:
            headers["x-codat-clientid"] = LEGACY_CLIENT_ID
        else:
            now = datetime.now(UTC)
            headers["webhook-id"] = message.msg_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = Webhook(consumer.secret).sign(message.msg_id, now, raw)
        if self.config.delivery_authorization:
            headers["authorization"] = self.config.delivery_authorization
        return headers

    async def _deliver(self, consumer_id: str, message: Message, legacy: bool, initial_delay: float) -> None:
        # Legacy bodies name the rule that fired; a consumer plays the part of its rule.
        raw = dumps({**message.legacy_body, "RuleId": consumer_id} if legacy and message.legacy_body else message.body)
        schedule = tuple(self.config.retry_schedule) or (0.0,)
        outcome = "abandoned"
        try:
            for attempt, delay in enumerate(schedule, start=1):
                await asyncio.sleep(delay + (initial_delay if attempt == 1 else 0.0))
                with self._state.lock:
                    consumer = self._state.consumers.get(consumer_id)
                if consumer is None or consumer.disabled:
                    break  # deleting or disabling an endpoint cancels its pending retries
                record = Attempt(message.msg_id, consumer_id, message.event_type, attempt, time.time())
                try:
                    response = await self._http().post(
                        consumer.url, content=raw.encode("utf-8"),
                        headers=self._headers(consumer, message, raw, legacy), timeout=DELIVERY_TIMEOUT,
                    )
                    record.status_code = response.status_code
                except httpx.HTTPError as exc:
                    record.error = f"{type(exc).__name__}: {exc}"
                self.log.attempts.append(record)
                if self.on_attempt is not None:
                    self.on_attempt(record, consumer.url)
                if record.status_code is not None and 200 <= record.status_code < 300:
                    outcome = "delivered"
                    break
        finally:
            target = self.log.delivered if outcome == "delivered" else self.log.abandoned
            target.append((message.msg_id, consumer_id))
            with self._lock:
                self._active -= 1
            self._notify()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, follow_redirects=False, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
