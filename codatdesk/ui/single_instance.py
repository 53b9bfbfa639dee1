"""One codatdesk per data directory: a second start brings the first window forward and exits.

A ``QLockFile`` in the data dir decides who is first (it notices the stale lock of
a crashed run by its PID); the first also listens on a ``QLocalServer`` so the
second can ask it to raise its window. The app takes the lock before its window
shows and listens just after (``try_lock`` then ``listen``): QtNetwork is not
needed for the first paint.
"""

from __future__ import annotations

import getpass
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QLockFile, QObject, Signal

from codatdesk import paths

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

RAISE = b"raise\n"


class SingleInstance(QObject):
    activated = Signal()  # another start asked us to come forward

    def __init__(self, flavour: str = "main", data_dir: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        base = data_dir or paths.data_dir()
        key = f"{base.resolve()}|{getpass.getuser()}|{flavour}".encode()
        digest = f"{zlib.crc32(key):08x}{zlib.adler32(key):08x}"  # a name, not a secret (hashlib costs ~4 ms)
        self.server_name = f"codatdesk-{digest}"
        self._lock = QLockFile(str(base / f".codatdesk-{flavour}.lock"))
        self._lock.setStaleLockTime(0)  # only a dead PID makes the lock stale, never its age
        self._server: QLocalServer | None = None

    def try_become_primary(self) -> bool:
        """True: we are the only instance (keep running). False: another one was told to show itself."""
        if self.try_lock():
            self.listen()
            return True
        return False

    def try_lock(self) -> bool:
        """True: we are the only instance; call ``listen`` soon. False: the other one was told to show itself."""
        if self._lock.tryLock(200):
            return True
        self.notify_primary()
        return False

    def listen(self) -> None:
        """Accept 'come forward' requests from later starts (after ``try_lock`` returned True)."""
        from PySide6.QtNetwork import QLocalServer

        if self._server is not None or not self._lock.isLocked():
            return
        QLocalServer.removeServer(self.server_name)  # a socket file left by a crash
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._server.listen(self.server_name)

    def notify_primary(self, timeout_ms: int = 1000) -> bool:
        from PySide6.QtNetwork import QLocalSocket

        socket = QLocalSocket()
        socket.connectToServer(self.server_name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(RAISE)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            # No deleteLater here: under PySide6 that crashed later event processing. The few
            # sockets of second starts stay children of the server and go with it.
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(RAISE.strip()):
            self.activated.emit()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()
