"""Load generation for the listener benchmarks, and the bare server they are compared with.

Senders run in separate processes (``multiprocessing`` with *spawn*), so the client never
holds the server's GIL. Each sender speaks HTTP/1.1 over a plain keep-alive socket and
signs every body itself (Standard Webhooks: HMAC-SHA256 over ``id.timestamp.body``).
Why not httpx or wrk: an httpx request costs ~0.3 ms of client CPU, which on a 2-core
machine is taken from the server under test; wrk's Lua has no HMAC, so every signed body
would have to be prepared in advance and loaded as a script. A raw socket sender costs a
few tens of microseconds a request and imports nothing heavy (fast to spawn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------- signed bodies

def write_event_body(push_operation_key: str, company_id: str, connection_id: str) -> bytes:
    """A ``directCosts.write.successful`` envelope as Codat sends it."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({
        "id": str(uuid.uuid4()),
        "eventType": "directCosts.write.successful",
        "generatedDate": now,
        "payload": {
            "id": push_operation_key, "type": "Create",
            "referenceCompany": {"id": company_id, "name": "Benchmark Co"},
            "connectionId": connection_id, "requestedOnDate": now, "completedOnDate": now,
            "status": "Success", "record": {"id": "rec-" + push_operation_key[:8]},
        },
    }, separators=(",", ":")).encode()


class Signer:
    def __init__(self, secret: str) -> None:
        self._key = base64.b64decode(secret.removeprefix("whsec_"))

    def headers(self, delivery_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        digest = hmac.new(self._key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        return {"webhook-id": delivery_id, "webhook-timestamp": timestamp,
                "webhook-signature": "v1," + base64.b64encode(digest).decode()}


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------- a keep-alive client

class Connection:
    """One HTTP/1.1 keep-alive connection; ``request`` returns the status code (0: transport error)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._buffer = sock, b""
        return sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, data: bytes) -> int:
        for attempt in (0, 1):  # a keep-alive connection the server closed: reconnect once
            sock = self._sock or self._connect()
            try:
                sock.sendall(data)
                return self._read_response(sock)
            except OSError:
                self.close()
                if attempt:
                    return 0
        return 0

    def _read_response(self, sock: socket.socket) -> int:
        while b"\r\n\r\n" not in self._buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed before the response")
            self._buffer += chunk
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed in the body")
            rest += chunk
        self._buffer = rest[length:]
        if close:
            self.close()
        return status


# ---------------------------------------------------------------------------- sender processes

@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    secret: str
    company_id: str = "bench-company"
    connection_id: str = "bench-connection"


def paced_sender(target: Target, keys: list[str], rate: float, start_at: float, threads: int, results) -> None:
    """Send one delivery per key at ``rate`` per second from ``start_at`` (monotonic), open loop.

    ``threads`` connections share the schedule so one slow answer does not delay the next
    send. Puts ``[(index, sent_at, answered_at, status), ...]`` on ``results``.
    """
    signer = Signer(target.secret)
    prepared = []
    for key in keys:
        body = write_event_body(key, target.company_id, target.connection_id)
        delivery_id = f"msg_{uuid.uuid4().hex}"
        prepared.append(request_bytes(target.host, target.port, target.path, body, signer.headers(delivery_id, body)))
    records: list[tuple[int, float, float, int]] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        connection = Connection(target.host, target.port)
        mine = []
        for index in range(offset, len(prepared), threads):
            due = start_at + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.monotonic()
            status = connection.request(prepared[index])
            mine.append((index, sent, time.monotonic(), status))
        connection.close()
        with lock:
            records.extend(mine)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    results.put(sorted(records))


def flood_sender(target: Target, senders: int, start_at: float, duration: float, results) -> None:
    """``senders`` closed-loop connections, each sending unique signed deliveries back to back.

    Counts answers inside [start_at, start_at + duration); puts ``(ok, errors, statuses)``.
    """
    signer = Signer(target.secret)
    body_template = write_event_body("00000000-0000-0000-0000-000000000000", target.company_id, target.connection_id)
    totals = {"ok": 0, "errors": 0}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    end_at = start_at + duration

    def worker() -> None:
        connection = Connection(target.host, target.port)
        ok = errors = 0
        seen: dict[int, int] = {}
        delay = start_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while True:
            key = str(uuid.uuid4())
            body = body_template.replace(b"00000000-0000-0000-0000-000000000000", key.encode())
            delivery_id = "msg_" + key.replace("-", "")
            data = request_bytes(target.host, target.port, target.path, body, signer.headers(delivery_id, body))
            status = connection.request(data)
            if time.monotonic() >= end_at:
                break
            seen[status] = seen.get(status, 0) + 1
            if 200 <= status < 300:
                ok += 1
            else:
                errors += 1
        connection.close()
        with lock:
            totals["ok"] += ok
            totals["errors"] += errors
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    workers = [threading.Thread(target=worker) for _ in range(senders)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    results.put((totals["ok"], totals["errors"], statuses))


def spawn(target_fn, *args):
    """Start ``target_fn(*args, queue)`` in a spawned process; returns (process, queue)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target_fn, args=(*args, queue), daemon=True)
    process.start()
    return process, queue


# ---------------------------------------------------------------------------- the bare server

class BareServer:
    """The alternative: Starlette on uvicorn (httptools, same options as the listener) that reads the
    body and answers 200 — no verification, no storage."""

    def __init__(self, path: str = "/webhooks/codat") -> None:
        import uvicorn
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route, Router

        async def handle(request: Request) -> PlainTextResponse:
            await request.body()
            return PlainTextResponse("ok")

        self.path = path
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(Router(routes=[Route(path, handle, methods=["POST"])]), http="httptools", ws="none",
                                lifespan="off", loop="asyncio", log_config=None, log_level=None, access_log=False,
                                server_header=False, date_header=False, proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="bare-server", daemon=True)

    def start(self) -> BareServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("bare server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
