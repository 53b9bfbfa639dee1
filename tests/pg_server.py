"""A real PostgreSQL for the tests (team mode, issue #15).

``CODATDESK_TEST_PG`` names a server to use (``postgresql://user:password@host:port/dbname``; each test gets a
database of its own there). Otherwise :class:`TempPostgres` starts one from the installed binaries in a temporary
folder, listening on loopback only, and removes it at the end of the session. As root it runs the server as the
``postgres`` user (PostgreSQL refuses to run as root). No binaries and no URL: the PostgreSQL tests are skipped and
the run's summary says so (tests/conftest.py), never a quiet pass.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import make_url

ENV_URL = "CODATDESK_TEST_PG"


def sqlalchemy_url(url: str) -> str:
    """The same server through psycopg 3 (SQLAlchemy's default PostgreSQL driver is psycopg2)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: $PG_BINDIR, pg_config, Debian's versioned folders, then PATH."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                         check=True, timeout=10).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempPostgres:
    """A throwaway cluster: no fsync (tests need no durability across power loss), trust auth on loopback."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="codatdesk-pg-"))
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {result.stdout}{result.stderr}")

    def start(self) -> TempPostgres:
        data = self.folder / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.folder} -F -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def admin_connect(server_url: str):
    import psycopg

    return psycopg.connect(make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)


def create_database(server_url: str, prefix: str = "codatdesk_test") -> str:
    """A new empty database on the server; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin_connect(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(sqlalchemy_url(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
