"""Receipt files on disk: content-addressed (named by their sha256, so one file is stored once however
often it is attached), private (0600 in a 0700 folder, like the database), and sniffed from their bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codatdesk import paths

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


def folder_for_database(database_file: str | None) -> Path:
    """Receipts sit beside the database (the data folder), so a demo or a test database keeps its own."""
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
        self._write_once(sha256, data)
        return StoredFile(sha256, media_type, size, source.name)

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
