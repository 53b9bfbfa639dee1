"""Logging: a rotating file in the log directory, with every known secret redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

from codatdesk import paths

_redactor_lock = threading.Lock()
_extra_secrets: set[str] = set()
# Header values that carry credentials, whatever the secret is.
_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)\s+[^\s'\",}]+"),
    re.compile(r"whsec_[A-Za-z0-9+/=]+"),
]


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never reaches a log line (called when secrets are loaded)."""
    if value and len(value) >= 4:
        with _redactor_lock:
            _extra_secrets.add(value)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) + "[redacted]") if m.lastindex else "[redacted]", text)
    with _redactor_lock:
        secrets = sorted(_extra_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file, the first and each one after a rotation, is created 0600 on POSIX."""

    def _open(self):  # logging's own (untyped) signature
        paths.create_private_file(Path(self.baseFilename))
        return super()._open()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(*, console: bool = True, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if getattr(root, "_codatdesk_configured", False):
        return
    root.setLevel(level)
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    file_handler = PrivateRotatingFileHandler(
        paths.log_dir() / "codatdesk.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
        stream.setLevel(logging.WARNING)
        root.addHandler(stream)
    # uvicorn's access log would print every webhook request; our own log says what matters.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root._codatdesk_configured = True  # type: ignore[attr-defined]
