"""The Sandbox: state, the background engine (push completion, webhook delivery) and the app."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from . import reference_data as ref
from .config import SandboxConfig
from .delivery import Deliverer, company_message, connection_event_type, connection_message, new_secret, write_message
from .idempotency import IdempotencyCache
from .limits import RateLimiter
from .loop import LoopThread
from .profiles import PROFILES
from .state import ApiError, Consumer, IdFactory, SandboxState, wants_timeout

MAX_CONSUMERS = 50


class Sandbox:
    """A local emulator of the parts of Codat the product uses. See the package docstring."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._config = config if config is not None else SandboxConfig()
        seed = self._config.seed
        self._ids = IdFactory(seed)
        self.state = SandboxState(self._ids)
        self.api_key = "sbx_" + self._ids.token(16).hex()
        self._api_rng = random.Random(f"api:{seed}") if seed is not None else random.SystemRandom()
        self._push_rng = random.Random(f"push:{seed}") if seed is not None else random.SystemRandom()
        self._rng_lock = threading.Lock()
        self._idle = threading.Condition()
        self._scheduled = 0  # push operations whose completion (incl. publishing) has not run yet
        self._closed = False
        self.on_consumer_created: Callable[[dict[str, Any]], None] | None = None
        self.on_push_completed: Callable[[dict[str, Any]], None] | None = None  # gets the final PushOperation

        self._engine = LoopThread("codat-sandbox-engine")
        self._api_loop: LoopThread | None = None
        self._api_loop_lock = threading.Lock()
        self.deliverer = Deliverer(self.state, self.config, self._ids, self._engine.loop, self._notify_idle)
        self.limiter = RateLimiter(self.config, self._linked_company_count)
        self.idempotency = IdempotencyCache(lambda: self.config.idempotency_ttl)
        self.dropped_push_answers = 0  # push answers lost by ``push_drop_rate`` after the push took effect
        self._parked: set[str] = set()  # on-premise pushes waiting for the desktop connector

        company = self.state.create_company(ref.DEMO_COMPANY_NAME, "Demo company of the codatdesk sandbox")
        self.company_id: str = company["id"]
        self.connection_id: str = self.state.add_connection(self.company_id, "Linked")["id"]
        self.state.seed_ledger(self.company_id)

        from .app import build_app  # the app needs a constructed Sandbox
        from .expenses import ExpensesEmulator

        self.expenses = ExpensesEmulator(self)  # Codat's Sync for Expenses API (sandbox.expenses)

        self.app = build_app(self)

    @property
    def config(self) -> SandboxConfig:
        """The live knobs; change fields at runtime, or assign a whole new SandboxConfig."""
        return self._config

    @config.setter
    def config(self, config: SandboxConfig) -> None:
        self._config = config
        self.deliverer.config = config
        self.limiter.config = config

    # -- random choices (seeded, thread-safe) -------------------------------------------

    def api_roll(self) -> float:
        with self._rng_lock:
            return self._api_rng.random()

    def _push_roll(self) -> tuple[float, float]:
        with self._rng_lock:
            return self._push_rng.random(), self._push_rng.uniform(-0.3, 0.3)

    # -- companies and connections ------------------------------------------------------

    def _linked_company_count(self) -> int:
        with self.state.lock:
            return sum(
                1 for data in self.state.companies.values()
                if any(c["status"] == "Linked" for c in data.connections.values())
            )

    def create_company(self, name: str, description: str | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
        company = self.state.create_company(name, description, tags)
        self.deliverer.publish(company_message(company, self._ids.uuid()))
        return company

    def create_connection(self, company_id: str, platform_key: str = ref.PLATFORM_KEY) -> dict[str, Any]:
        if platform_key not in PROFILES:
            raise ApiError(404, f"Integration {platform_key} is not enabled in the sandbox "
                                f"(only {', '.join(sorted(PROFILES))}).")
        connection = self.state.add_connection(company_id, "PendingAuth", platform_key)
        self.deliverer.publish(connection_message("connection.created", "PendingAuth", connection,
                                                  self.state.company_reference(company_id), self._ids.uuid()))
        return connection

    def add_company(self, name: str, platform_key: str = ref.PLATFORM_KEY, *, tags: dict[str, str] | None = None,
                    base_currency: str = ref.DEMO_CURRENCY) -> tuple[str, str]:
        """Steering: a company with a Linked accounting connection to ``platform_key`` and the demo ledger.
        Returns (company id, connection id)."""
        company_id = self.create_company(name, None, tags)["id"]
        connection_id = self.create_connection(company_id, platform_key)["id"]
        self.set_connection_status(company_id, connection_id, "Linked")
        self.state.seed_ledger(company_id)
        self.state.set_base_currency(company_id, base_currency)
        return company_id, connection_id

    def add_source_connection(self, company_id: str, source_type: str, platform_key: str,
                              platform_name: str) -> dict[str, Any]:
        """Steering: a Linked connection of another ``sourceType`` (``Banking``, ``Expense``) on a company."""
        connection = self.state.add_connection(company_id, "Linked", platform_key, source_type, platform_name)
        self.deliverer.publish(connection_message("connection.connected", "PendingAuth", connection,
                                                  self.state.company_reference(company_id), self._ids.uuid()))
        return connection

    def replace_connection(self, company_id: str, connection_id: str) -> dict[str, Any]:
        """Steering: the SMB links its ledger again and Codat gives it a new connection id. The old
        connection turns Unlinked with an Active ``dataConnectionErrors`` entry naming the new id
        (the text is a sandbox choice), firing ``connection.disconnected``; the new one is Linked
        (``connection.connected``). Returns the new connection."""
        old = self.state.connection(company_id, connection_id)
        new = self.state.add_connection(company_id, "PendingAuth", old["integrationKey"], old["sourceType"],
                                        old["platformName"])
        self.set_connection_status(company_id, new["id"], "Linked")
        with self.state.lock:
            previous = old["status"]
            old["status"] = "Unlinked"
            old["dataConnectionErrors"] = [*(old["dataConnectionErrors"] or []), {
                "statusCode": "410", "statusText": "Replaced",
                "errorMessage": f"This connection was replaced by connection {new['id']}.",
                "erroredOnUtc": new["created"], "status": "Active", "resolvedOnUtc": None}]
            snapshot = dict(old)
        self.deliverer.publish(connection_message("connection.disconnected", previous, snapshot,
                                                  self.state.company_reference(company_id), self._ids.uuid()))
        return dict(self.state.connection(company_id, new["id"]))

    def set_connector_online(self, company_id: str, online: bool = True) -> None:
        """Steering for on-premise ledgers: the desktop connector is (un)reachable. Going online completes
        the pushes that waited for it."""
        with self.state.lock:
            data = self.state.company(company_id)
            data.connector_online = online
            waiting = [r.key for r in self.state.push_operations.values()
                       if r.company_id == company_id and r.is_pending and r.key in self._parked]
            for key in waiting:
                self._parked.discard(key)
        for key in waiting if online else []:
            with self._idle:
                self._scheduled += 1
            self._engine.call_soon(self._engine.loop.call_later, self.config.push_delay, self._complete_push, key)

    def set_connection_status(self, company_id: str, connection_id: str, status: str) -> dict[str, Any]:
        """Change a connection's status as the SMB or the platform would, firing the connection webhook."""
        old, connection = self.state.set_connection_status(company_id, connection_id, status)
        event_type = connection_event_type(old, status)
        if event_type:
            self.deliverer.publish(connection_message(event_type, old, connection,
                                                      self.state.company_reference(company_id), self._ids.uuid()))
        return connection

    # -- push operations ----------------------------------------------------------------

    def request_push(self, company_id: str, connection_id: str, data_type: str, body: Any,
                     timeout_in_minutes: int | None, *, allow_sync: bool = True) -> dict[str, Any]:
        """Record a Pending push, schedule its completion on the engine loop; return it as Codat answers (Pending)."""
        roll, jitter = self._push_roll()
        timed_out = wants_timeout(data_type, body) or roll < self.config.timeout_share
        delay = self.config.push_delay
        if self.config.shuffle:
            delay = max(0.0, delay * (1 + jitter))
        if timeout_in_minutes is not None and delay > timeout_in_minutes * 60:
            # Codat flips the operation to TimedOut once timeoutInMinutes has passed.
            delay, timed_out = timeout_in_minutes * 60.0, True
        record = self.state.create_push(company_id, connection_id, data_type, body, timeout_in_minutes, timed_out,
                                        allow_sync)
        with self.state.lock:
            answer = record.to_json()  # before scheduling: the POST always reports Pending
            data = self.state.company(company_id)
            offline = data.profile.on_premise and not data.connector_online
        if offline:
            # An on-premise write waits for the desktop connector: Pending indefinitely, or TimedOut after
            # timeoutInMinutes (codat-docs docs/using-the-api/push.md, "Timeouts").
            if timeout_in_minutes is None:
                with self.state.lock:
                    self._parked.add(record.key)
                return answer
            record.timed_out, delay = True, timeout_in_minutes * 60.0
        with self._idle:
            self._scheduled += 1
        self._engine.call_soon(self._engine.loop.call_later, delay, self._complete_push, record.key)
        return answer

    def _complete_push(self, key: str) -> None:
        try:
            record = self.state.complete_push(key)
            reference = self.state.company_reference(record.company_id)
            self.deliverer.publish(write_message(record, reference, self._ids.uuid()))
            if self.on_push_completed is not None:
                with self.state.lock:
                    operation = record.to_json()
                self.on_push_completed(operation)
        finally:
            with self._idle:
                self._scheduled -= 1
                self._idle.notify_all()

    def run_later(self, delay: float, work: Callable[[], None]) -> None:
        """Run ``work`` on the engine loop after ``delay`` seconds; ``wait_idle`` waits for it."""
        def run() -> None:
            try:
                work()
            finally:
                with self._idle:
                    self._scheduled -= 1
                    self._idle.notify_all()

        with self._idle:
            self._scheduled += 1
        self._engine.call_soon(self._engine.loop.call_later, delay, run)

    @property
    def push_operations(self) -> Mapping[str, dict[str, Any]]:
        """Snapshot of every push operation as Codat returns it, keyed by pushOperationKey."""
        with self.state.lock:
            return {key: record.to_json() for key, record in self.state.push_operations.items()}

    def ledger(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """The directCosts created in the accounting platform (check for duplicates here)."""
        with self.state.lock:
            return [dict(cost) for cost in self.state.company(company_id or self.company_id).direct_costs]

    def bookings(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """What the platform booked for each direct cost in the company's base currency
        (``baseTotalAmount`` = totalAmount x the rate applied; a null foreign rate books as 1, as QBO does)."""
        with self.state.lock:
            return [dict(b) for b in self.state.company(company_id or self.company_id).bookings]

    def set_base_currency(self, currency: str, company_id: str | None = None) -> None:
        """The ledger's currency as ``data/info`` reports it (GBP unless set)."""
        self.state.set_base_currency(company_id or self.company_id, currency)

    def accounts(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """The platform's chart of accounts (including written accounts not yet in Codat's cache)."""
        with self.state.lock:
            return [dict(account) for account in self.state.company(company_id or self.company_id).accounts.values()]

    def suppliers(self, company_id: str | None = None) -> list[dict[str, Any]]:
        """The ledger's suppliers."""
        with self.state.lock:
            return [dict(supplier) for supplier in self.state.company(company_id or self.company_id).suppliers.values()]

    # -- webhook consumers ---------------------------------------------------------------

    def add_webhook_consumer(self, url: str, event_types: list[str], secret: str | None = None, *,
                             disabled: bool = False, company_tags: list[str] | None = None) -> dict[str, Any]:
        """Same as POST /webhooks; the returned dict also carries the signing ``secret``."""
        with self.state.lock:
            if len(self.state.consumers) >= MAX_CONSUMERS:
                raise ApiError(400, f"A client can have at most {MAX_CONSUMERS} webhook consumers.")
            consumer = Consumer(id=self._ids.uuid(), url=url, event_types=list(event_types),
                                secret=secret or new_secret(self._ids), disabled=disabled,
                                company_tags=list(company_tags) if company_tags is not None else None)
            self.state.consumers[consumer.id] = consumer
        created = {**consumer.to_json(), "secret": consumer.secret}
        if self.on_consumer_created is not None:
            self.on_consumer_created(created)
        return created

    def delete_webhook_consumer(self, consumer_id: str) -> None:
        with self.state.lock:
            if self.state.consumers.pop(consumer_id, None) is None:
                raise ApiError(404, f"Webhook consumer {consumer_id} not found")

    def consumer_secret(self, consumer_id: str) -> str:
        with self.state.lock:
            consumer = self.state.consumers.get(consumer_id)
        if consumer is None:
            raise KeyError(consumer_id)
        return consumer.secret

    # -- lifecycle ---------------------------------------------------------------------

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()

    def is_idle(self) -> bool:
        return self._scheduled == 0 and self.deliverer.active == 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once every pending push completed and every delivery is done or abandoned."""
        with self._idle:
            return self._idle.wait_for(self.is_idle, timeout)

    def in_flight(self, company_id: str | None = None) -> int:
        """Requests currently being handled for a company (for rate-limit tests)."""
        return self.limiter.in_flight(company_id or self.company_id)

    def api_loop(self) -> LoopThread:
        with self._api_loop_lock:
            if self._closed:
                raise RuntimeError("sandbox is shut down")
            if self._api_loop is None:
                self._api_loop = LoopThread("codat-sandbox-api")
            return self._api_loop

    def transport(self) -> httpx.BaseTransport:
        """A sync httpx transport that runs the app in-process on its own event-loop thread."""
        from .transport import SandboxTransport

        return SandboxTransport(self.app, self.api_loop())

    def shutdown(self) -> None:
        with self._api_loop_lock:
            if self._closed:
                return
            self._closed = True
            api_loop, self._api_loop = self._api_loop, None
        try:
            self._engine.submit(self.deliverer.aclose()).result(timeout=5)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self._engine.stop()
        if api_loop is not None:
            api_loop.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
