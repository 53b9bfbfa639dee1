"""Helpers for the sandbox tests: a loopback webhook receiver, polling, sample bodies."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from codatdesk.sandbox import Sandbox
from tests.conftest import wait_until


def auth_header(api_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}


def client_for(sb: Sandbox, **kwargs: Any) -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url="http://sandbox", headers=auth_header(sb.api_key), **kwargs)


def account_ids(sb: Sandbox) -> dict[str, str]:
    """nominalCode -> id of the demo ledger."""
    return {account["nominalCode"]: account["id"] for account in sb.accounts()}


def direct_cost(sb: Sandbox, *, expense_code: str = "429", bank_code: str = "090", sub_total: str = "10.00",
                tax: str = "2.00", total: str = "12.00", **overrides: Any) -> dict[str, Any]:
    """A valid directCost body (numbers as JSON numbers via raw JSON text)."""
    ids = account_ids(sb)
    supplier = next(s for s in sb.suppliers() if s["supplierName"] == "Acme Office Supplies")
    body: dict[str, Any] = {
        "issueDate": "2024-03-01T00:00:00",
        "contactRef": {"id": supplier["id"], "dataType": "suppliers"},  # Xero requires a contact
        "currency": "GBP",
        "reference": "EXP-1",
        "note": "Taxi to client",
        "lineItems": [{
            "description": "Taxi", "quantity": 1, "unitAmount": float(sub_total), "subTotal": float(sub_total),
            "taxAmount": float(tax), "totalAmount": float(total), "accountRef": {"id": ids[expense_code]},
            "taxRateRef": {"id": "INPUT2"},
        }],
        "paymentAllocations": [{
            "payment": {"accountRef": {"id": ids[bank_code]}, "currency": "GBP", "totalAmount": float(total)},
            "allocation": {"currency": "GBP", "totalAmount": float(total), "allocatedOnDate": "2024-03-01T00:00:00"},
        }],
        "subTotal": float(sub_total),
        "taxAmount": float(tax),
        "totalAmount": float(total),
    }
    body.update(overrides)
    return body


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


class Receiver:
    """A tiny webhook consumer on 127.0.0.1:<random port> (uvicorn in a thread).

    ``responses`` maps a call number (1-based, over all calls) to the status to answer;
    anything else gets 200. ``all_received`` includes failed attempts.
    """

    def __init__(self) -> None:
        self.all_received: list[Received] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.delay = 0.0  # seconds to wait before answering (a slow consumer)
        self._cond = threading.Condition()
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "PUT"])])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10)

    def reset(self) -> None:
        with self._cond:
            self.all_received.clear()
            self.statuses.clear()
            self.default_status = 200
            self.delay = 0.0

    def url(self, path: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._cond:
            status = self.statuses.pop(0) if self.statuses else self.default_status
            self.all_received.append(Received(request.url.path, dict(request.headers), body, status, time.time()))
            self._cond.notify_all()
        if self.delay:
            await asyncio.sleep(self.delay)
        return Response(b"ok", status_code=status)

    @property
    def delivered(self) -> list[Received]:
        with self._cond:
            return [r for r in self.all_received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 10.0, *, successful: bool = True) -> list[Received]:
        def enough() -> bool:
            items = self.delivered if successful else self.all_received
            return len(items) >= count
        wait_until(enough, timeout)
        return self.delivered if successful else list(self.all_received)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._sock.close()
