"""The listener's request-head deadline (webhooks/header_deadline.py) on a bare asyncio server:
a connection must start a request within the deadline of opening and of each response."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from codatdesk.webhooks.header_deadline import HeaderDeadlines

DEADLINE = 0.3


class LineProtocol(asyncio.Protocol):
    """Stands in for uvicorn's protocol: a line "start" begins a request, "end" finishes it."""

    deadlines: HeaderDeadlines

    def __init__(self, **_uvicorn_arguments: Any) -> None:
        self.peer: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peer = transport.get_extra_info("peername")

    def data_received(self, data: bytes) -> None:
        for line in data.split():
            if line == b"start":
                self.deadlines.request_started(self.peer)
            elif line == b"end":
                self.deadlines.request_finished(self.peer)


async def _closed_after(writer_reader: tuple[asyncio.StreamReader, asyncio.StreamWriter], send: list[bytes]) -> float:
    reader, writer = writer_reader
    started = time.monotonic()
    for chunk in send:
        writer.write(chunk)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # EOF: the server closed it
    writer.close()
    return time.monotonic() - started


def _run(scenario: Any) -> Any:
    async def main() -> Any:
        deadlines = HeaderDeadlines(DEADLINE)
        LineProtocol.deadlines = deadlines
        loop = asyncio.get_running_loop()
        server = await loop.create_server(deadlines.wrap(LineProtocol), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await scenario(lambda: asyncio.open_connection("127.0.0.1", port), deadlines)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def test_a_silent_or_half_sent_connection_is_closed_at_the_deadline() -> None:
    async def scenario(connect: Any, _deadlines: HeaderDeadlines) -> tuple[float, float]:
        return (await _closed_after(await connect(), []),
                await _closed_after(await connect(), [b"POST /webhooks/co"]))

    silent, half = _run(scenario)
    assert DEADLINE * 0.8 <= silent < DEADLINE + 2 and DEADLINE * 0.8 <= half < DEADLINE + 2


def test_a_request_in_the_handler_is_not_cut_and_the_deadline_restarts_after_it() -> None:
    async def scenario(connect: Any, deadlines: HeaderDeadlines) -> tuple[float, int]:
        reader, writer = await connect()
        host, port = writer.get_extra_info("sockname")[:2]
        writer.write(b"start\n")
        await writer.drain()
        # In the handler: no deadline is armed, so nothing can close the connection (no sleep to show it).
        for _ in range(500):
            if deadlines._open[(host, port)]._timer is None:
                break
            await asyncio.sleep(0.01)  # polling a condition, not waiting for time to pass
        assert deadlines._open[(host, port)]._timer is None and not reader.at_eof()
        writer.write(b"end\n")  # the response went out: a new deadline for the next request head
        elapsed = await _closed_after((reader, writer), [])
        return elapsed, len(deadlines._open)

    elapsed, left = _run(scenario)
    assert DEADLINE * 0.8 <= elapsed < DEADLINE + 2
    assert left == 0  # closed connections are forgotten
