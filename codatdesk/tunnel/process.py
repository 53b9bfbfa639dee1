"""A child process in its own process group, its output read line by line, and restart backoff.

The tunnel binaries (cloudflared, ngrok) run as children of the app. They get
their own process group (POSIX session / Windows process group) so that stopping
the app stops them and anything they spawned, and so that a Ctrl+C in a terminal
reaches the app first instead of killing the tunnel behind its back.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

LineHandler = Callable[[str, str], None]  # (stream name "stdout"|"stderr", line without newline)

_live: weakref.WeakSet[ChildProcess] = weakref.WeakSet()


@atexit.register
def _stop_all_children() -> None:
    # Last resort on a normal interpreter exit; an orderly quit has stopped them already.
    for child in list(_live):
        child.stop(grace=1.0)


class Backoff:
    """Exponential restart delay with a cap; a run that stayed up long enough resets it."""

    def __init__(self, initial: float = 1.0, factor: float = 2.0, cap: float = 60.0,
                 reset_after: float = 60.0) -> None:
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.reset_after = reset_after
        self._failures = 0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self._failures = 0
        delay = min(self.cap, self.initial * self.factor ** self._failures)
        self._failures += 1
        return delay

    def reset(self) -> None:
        self._failures = 0


class ChildProcess:
    """One run of a command. ``start`` raises OSError (e.g. FileNotFoundError) if it cannot run."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 on_line: LineHandler | None = None, name: str = "child") -> None:
        self.argv = list(argv)
        self.name = name
        self._env = env
        self._on_line = on_line
        self._proc: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []
        self._stop_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        kwargs: dict = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        else:
            kwargs["start_new_session"] = True
        self._proc = subprocess.Popen(
            self.argv, env=self._env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1, **kwargs,
        )
        _live.add(self)
        for stream_name, stream in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            reader = threading.Thread(target=self._read, args=(stream_name, stream),
                                      name=f"{self.name}-{stream_name}", daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, stream_name: str, stream) -> None:
        try:
            for line in stream:
                if self._on_line is not None:
                    try:
                        self._on_line(stream_name, line.rstrip("\r\n"))
                    except Exception:
                        log.exception("%s: line handler failed", self.name)
        except (OSError, ValueError):
            pass  # the pipe was closed under us during stop
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the exit and for its output to be read; None on timeout."""
        if self._proc is None:
            return None
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # The readers end at EOF; a grandchild holding the pipe must not hang us forever.
        for reader in self._readers:
            reader.join(timeout=2.0)
        _live.discard(self)
        return code

    def stop(self, grace: float = 5.0) -> int | None:
        """Terminate the whole group, then kill it if it is still there after ``grace`` seconds."""
        with self._stop_lock:
            proc = self._proc
            if proc is None:
                return None
            if proc.poll() is None:
                self._signal_group(terminate=True)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %.1f s; killing it", self.name, grace)
                    self._signal_group(terminate=False)
                    try:
                        proc.wait(grace)
                    except subprocess.TimeoutExpired:
                        log.error("%s (pid %s) survived SIGKILL", self.name, proc.pid)
            else:
                self._signal_group(terminate=False)  # leftovers of a dead leader
        return self.wait(timeout=0.5)

    def _signal_group(self, *, terminate: bool) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if sys.platform == "win32":
                if terminate:
                    proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
                else:
                    proc.kill()
            else:
                os.killpg(proc.pid, signal.SIGTERM if terminate else signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
