"""A synchronous httpx transport that serves requests from the sandbox's ASGI app in-process."""

from __future__ import annotations

import concurrent.futures

import httpx

from .loop import LoopThread


class SandboxTransport(httpx.BaseTransport):
    """Runs each request on the sandbox's API event-loop thread and waits for the answer.

    The client's read timeout is honoured (``httpx.ReadTimeout``), so ``latency`` behaves
    as it would over a socket. Many client threads may share one transport.
    """

    def __init__(self, app, loop: LoopThread) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 50000))
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        call = self._call(inner)
        try:
            future = self._loop.submit(call)
        except RuntimeError:  # the sandbox was shut down: like a server that is gone
            call.close()
            raise httpx.ConnectError("the sandbox is shut down", request=request) from None
        try:
            status, headers, content = future.result(timeout=read_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("sandbox did not answer within the read timeout", request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _call(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        try:
            response = await self._asgi.handle_async_request(request)
        except AssertionError:  # the app started an answer and never finished it (``reset_rate``)
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer", request=request) from None
        content = await response.aread()
        return response.status_code, response.headers.raw, content
