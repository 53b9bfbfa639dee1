"""Where codatdesk keeps its files, and where its bundled resources are.

One run keeps every file (database, settings, logs) under one data directory:
``--data-dir`` wins, then ``CODATDESK_HOME``, then the platform's user data dir.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "codatdesk"
_data_dir_override: Path | None = None


def set_data_dir(path: str | os.PathLike[str] | None) -> None:
    """Pin the data directory for this process (from ``--data-dir``)."""
    global _data_dir_override
    _data_dir_override = Path(path).expanduser().resolve() if path else None


def data_dir() -> Path:
    if _data_dir_override is not None:
        base = _data_dir_override
    elif os.environ.get("CODATDESK_HOME"):
        base = Path(os.environ["CODATDESK_HOME"]).expanduser().resolve()
    else:
        base = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    make_private_dir(base)
    return base


def make_private_dir(path: Path) -> None:
    """Create ``path`` readable by its owner only (POSIX 0700): it holds the books and the logs.
    A folder that exists already is left as its owner set it."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        os.chmod(path, 0o700)  # mkdir's mode passes through the umask; this one does not


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (a file opened later by a library
    that would create it with the umask's 0644, such as SQLite; its -wal and -shm copy this mode)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def log_dir() -> Path:
    # Inside the data dir when one was chosen explicitly, so a run stays in one place.
    if _data_dir_override is not None or os.environ.get("CODATDESK_HOME"):
        path = data_dir() / "logs"
    else:
        path = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    make_private_dir(path)
    return path


def database_path() -> Path:
    return data_dir() / "codatdesk.sqlite3"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def serve_lock_path() -> Path:
    """Held (locked) by a running ``codatdesk serve`` of this data folder; holds its pid and port."""
    return data_dir() / "serve.lock"


def resources_dir() -> Path:
    """The ``resources/`` folder, from source or inside a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path:
    """Path of a bundled resource; raises FileNotFoundError naming it if absent."""
    path = resources_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"resource not found: {name} (looked in {resources_dir()})")
    return path
