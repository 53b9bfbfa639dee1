"""A deadline for each request's head on the listener's connections.

uvicorn arms no timer until a first response is sent (its ``timeout_keep_alive`` starts
after a response), and it has no public header timeout; an ASGI middleware cannot help,
because the app is called only once the head is complete. So a client that connects and
sends nothing, or half a request line, would hold a connection (and a slot under
``limit_concurrency``) forever. This guard wraps uvicorn's protocol by composition, using
only asyncio's Protocol interface (no subclass, no private attributes): a connection
must hand the app a complete request within ``seconds`` of opening, and again within
``seconds`` of each response; the ASGI layer reports when a request starts and ends.
"""

from __future__ import annotations

import asyncio
from typing import Any


class HeaderDeadlines:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._open: dict[tuple[str, int], _DeadlineConnection] = {}  # by the client's address, as ASGI's scope has it

    def wrap(self, protocol_class: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
        """A protocol class for uvicorn's ``Config(http=...)`` that builds ``protocol_class`` inside the guard."""
        deadlines = self

        class GuardedConnection(_DeadlineConnection):
            def __init__(self, **uvicorn_arguments: Any) -> None:
                super().__init__(protocol_class(**uvicorn_arguments), deadlines)

        return GuardedConnection

    # Called on the event loop by the ASGI layer, with scope["client"].
    def request_started(self, client: Any) -> None:
        connection = self._open.get(_key(client))
        if connection is not None:
            connection.disarm()

    def request_finished(self, client: Any) -> None:
        connection = self._open.get(_key(client))
        if connection is not None:
            connection.arm()


def _key(address: Any) -> tuple[str, int]:
    return (str(address[0]), int(address[1])) if address else ("", 0)


class _DeadlineConnection(asyncio.Protocol):
    def __init__(self, inner: asyncio.Protocol, deadlines: HeaderDeadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._key = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._key = _key(transport.get_extra_info("peername"))
        self._deadlines._open[self._key] = self
        self.arm()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self._deadlines._open.get(self._key) is self:
            del self._deadlines._open[self._key]
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def arm(self) -> None:
        self.disarm()
        self._timer = asyncio.get_running_loop().call_later(self._deadlines.seconds, self._expire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
