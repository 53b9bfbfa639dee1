"""An httpx transport whose requests in flight can be cut from another thread (quitting).

Closing an ``httpx.Client`` does not wake a thread blocked reading an answer: on Linux a
socket closed under a blocked ``poll``/``recv`` stays blocked until the read timeout (30 s).
``shutdown(SHUT_RDWR)`` does wake it, so this transport's network backend remembers the
socket of every open connection and ``abort()`` shuts them all down; the blocked request
then fails at once with an httpx ``ReadError``/``WriteError`` and no new connection opens.
"""

from __future__ import annotations

import socket
import threading
import weakref
from typing import Any

import httpcore
import httpx


class _TrackedStream(httpcore.NetworkStream):
    """A stream whose socket the backend can shut down (TLS wraps it in a new stream: tracked too)."""

    def __init__(self, inner: httpcore.NetworkStream, backend: AbortableBackend) -> None:
        self._inner = inner
        self._backend = backend
        backend._track(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _TrackedStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed or never connected: nothing to wake
            pass


class AbortableBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._lock = threading.Lock()
        self._streams: weakref.WeakSet[_TrackedStream] = weakref.WeakSet()
        self._aborted = False

    def _track(self, stream: _TrackedStream) -> None:
        with self._lock:
            aborted = self._aborted
            self._streams.add(stream)
        if aborted:  # connected while aborting: cut it too
            stream.shutdown()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        self._refuse_if_aborted()
        return _TrackedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options), self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        self._refuse_if_aborted()
        return _TrackedStream(self._inner.connect_unix_socket(path, timeout, socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def _refuse_if_aborted(self) -> None:
        if self._aborted:
            raise httpcore.ConnectError("codatdesk is closing: no new connection")

    def abort(self) -> None:
        """Cut every open connection now (any thread); later connections are refused."""
        with self._lock:
            self._aborted = True
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()


def abortable_transport(backend: AbortableBackend) -> httpx.HTTPTransport:
    """httpx's own transport (TLS, pooling, error mapping) on ``backend``.

    httpx 0.28 takes no network backend, so it is set on the transport's httpcore pool;
    ``tests/test_quitting.py`` fails if an httpx upgrade moves it.
    """
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = backend
    return transport
