"""Receipt files on disk: content-addressed (named by their sha256, so one file is stored once however
often it is attached), private (0600 in a 0700 folder, like the database), and sniffed from their bytes.
On a team's shared PostgreSQL they are also kept in the database (``SharedReceiptFiles``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from codatdesk import paths
from codatdesk.store.db import read_session, session_scope
from codatdesk.store.models import Receipt, ReceiptContent

# What codatdesk keeps at all (codatdesk choice: above every ledger's limit but Dynamics'; the
# per-ledger limits are checked before upload, receipts/limits.py).
MAX_STORED_BYTES = 100 * 1024 * 1024
ACCEPTED = "PDF, PNG, JPEG or HEIC"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


class ReceiptRefused(ValueError):
    """A file codatdesk will not keep as a receipt; the message says why and what to do."""


def sniff_media_type(head: bytes) -> str | None:
    """The media type the file's first bytes show, or None for anything but PDF, PNG, JPEG and HEIC."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:  # ISO base media file: HEIF/HEIC
        return "image/heic"
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    media_type: str
    size: int
    file_name: str


def folder_for_database(database_file: URL | str | None) -> Path:
    """Receipts sit beside the database (the data folder), so a demo or a test database keeps its own.
    A team's PostgreSQL has no file here (its name is no path): its receipts go to the data folder."""
    if isinstance(database_file, URL):
        database_file = database_file.database if database_file.get_backend_name() == "sqlite" else None
    if database_file and database_file != ":memory:" and not database_file.startswith("file:"):
        return Path(database_file).resolve().parent / "receipts"
    return paths.data_dir() / "receipts"


class ReceiptFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def local_copy(self, sha256: str) -> Path:
        """The file on this computer (here, where it was stored)."""
        return self.path_of(sha256)

    def store(self, source: str | os.PathLike[str]) -> StoredFile:
        """Keep a copy of ``source`` (once per content); raises ReceiptRefused with the reason."""
        source = Path(source)
        if not source.is_file():
            raise ReceiptRefused(f"{source.name}: no such file ({source}). Check the path, or attach it again.")
        size = source.stat().st_size
        if size == 0:
            raise ReceiptRefused(f"{source.name} is empty. Attach the scanned or photographed receipt itself.")
        if size > MAX_STORED_BYTES:
            raise ReceiptRefused(f"{source.name} is {size / 1048576:.1f} MB; codatdesk keeps receipts up to "
                                 f"{MAX_STORED_BYTES // 1048576} MB. Scan it at a lower resolution or save it as PDF.")
        data = source.read_bytes()
        media_type = sniff_media_type(data[:32])
        if media_type is None:
            raise ReceiptRefused(f"{source.name} is not a {ACCEPTED} file (its content says so, whatever its "
                                 "name ends with). Save or export the receipt in one of those formats.")
        sha256 = hashlib.sha256(data).hexdigest()
        self._keep(sha256, data)
        return StoredFile(sha256, media_type, size, source.name)

    def _keep(self, sha256: str, data: bytes) -> None:
        self._write_once(sha256, data)

    def remove(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)

    def _write_once(self, sha256: str, data: bytes) -> None:
        target = self.path_of(sha256)
        if target.exists():
            return  # the same bytes are stored already: never a second copy
        paths.make_private_dir(self.folder)
        paths.make_private_dir(target.parent)
        # mkstemp creates 0600; the rename makes the file appear whole or not at all.
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class SharedReceiptFiles(ReceiptFiles):
    """Team mode: the bytes also live in the shared database (``receipt_content``), so the server uploads
    what a desktop attached and a colleague's desktop shows it. The data folder keeps a local copy of each,
    fetched from the database the first time this computer needs it."""

    def __init__(self, folder: Path, db: Engine) -> None:
        super().__init__(folder)
        self.db = db

    def _keep(self, sha256: str, data: bytes) -> None:
        super()._keep(sha256, data)
        try:
            with session_scope(self.db) as session:  # before the receipt row: every row's bytes are there
                if session.get(ReceiptContent, sha256) is None:
                    session.add(ReceiptContent(sha256=sha256, data=data))
        except IntegrityError:  # a colleague stored the same file at the same moment: it is there
            pass

    def read(self, sha256: str) -> bytes:
        return self.local_copy(sha256).read_bytes()

    def local_copy(self, sha256: str) -> Path:
        """The file in this computer's data folder, fetched from the database if it is not there yet."""
        target = self.path_of(sha256)
        if not target.exists():
            with read_session(self.db) as session:
                content = session.get(ReceiptContent, sha256)
                data = content.data if content is not None else None
            if data is None:
                raise FileNotFoundError(errno.ENOENT, "not in the team's database either", str(target))
            self._write_once(sha256, bytes(data))
        return target

    def remove(self, sha256: str) -> None:
        super().remove(sha256)
        with session_scope(self.db) as session:  # unless an expense attached the same file meanwhile
            if session.exec(select(func.count()).select_from(Receipt).where(Receipt.sha256 == sha256)).one() == 0:
                session.execute(delete(ReceiptContent).where(col(ReceiptContent.sha256) == sha256))


def receipt_files_for(db: Engine) -> ReceiptFiles:
    """The receipt store of this database: the data folder, and on a team's PostgreSQL the database too."""
    folder = folder_for_database(db.url)
    return SharedReceiptFiles(folder, db) if db.dialect.name == "postgresql" else ReceiptFiles(folder)
