"""Which ``codatdesk serve`` runs on this data folder, however it was started.

A running serve holds an exclusive OS lock on ``serve.lock`` in the data folder and
writes its pid and listener port into it. The OS drops the lock when the process
ends, even by ``kill -9``, so a file left by a killed serve is recognised as stale
(unlocked) without trusting its pid, which may belong to another process by now.
The file is never deleted, only emptied on a clean stop: deleting it would let a
starting serve lock a file no reader can find any more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from codatdesk import paths

# Windows locks byte ranges and a locked range cannot be read: lock one byte far past the text.
_WINDOWS_LOCK_OFFSET = 1 << 20


@dataclass(frozen=True)
class ServeInfo:
    pid: int | None  # None: the serve is starting and has not written its details yet
    port: int | None
    url: str = ""
    started_at: str = ""


class AlreadyServing(Exception):
    def __init__(self, info: ServeInfo, path: Path) -> None:
        where = f"pid {info.pid}, port {info.port}" if info.pid else "starting"
        super().__init__(f"a `codatdesk serve` of this data folder is running already ({where}; "
                         f"it holds {path}). Stop it first, or give this one another --data-dir.")
        self.info = info


def _try_lock(fd: int, *, exclusive: bool) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _read(path: Path) -> ServeInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return ServeInfo(pid=data.get("pid"), port=data.get("port"), url=data.get("url", ""),
                     started_at=data.get("started_at", ""))


def probe(path: Path | None = None) -> tuple[ServeInfo | None, ServeInfo | None]:
    """``(running, stale)``: the running serve's details, or the details a dead one left behind."""
    path = path or paths.serve_lock_path()
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None, None
    try:
        if _try_lock(fd, exclusive=False):
            _unlock(fd)
            return None, _read(path)
        return _read(path) or ServeInfo(pid=None, port=None), None
    finally:
        os.close(fd)


def running_serve(path: Path | None = None) -> ServeInfo | None:
    return probe(path)[0]


class ServeLock:
    """Held for the life of one ``serve``: ``acquire`` first, ``publish`` once listening, ``release`` last."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.serve_lock_path()
        self._fd: int | None = None
        self.replaced_stale: ServeInfo | None = None

    def acquire(self) -> ServeLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd, exclusive=True):
            os.close(fd)
            raise AlreadyServing(_read(self.path) or ServeInfo(pid=None, port=None), self.path)
        self._fd = fd
        self.replaced_stale = _read(self.path)
        self._write("")
        return self

    def publish(self, port: int, url: str) -> None:
        self._write(json.dumps({"pid": os.getpid(), "port": port, "url": url, "data_dir": str(paths.data_dir()),
                                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self._write("")  # a clean stop leaves nothing that looks stale
            _unlock(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    def _write(self, text: str) -> None:
        assert self._fd is not None
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, text.encode("utf-8"))
        os.fsync(self._fd)
