"""Receipts that come with an import: a ``receipt`` column (a path relative to the imported file) or a
folder of files named by the expense's reference (``codatdesk import FILE --receipts FOLDER``).

The column is checked with the rest of the file (a missing or unreadable file stops the import, like any
bad cell); the files are attached once the expenses are stored, to new and already-present rows alike
(a receipt already listed on its expense is not listed twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from codatdesk.receipts import attach
from codatdesk.receipts.files import ACCEPTED, ReceiptRefused, receipt_files_for, sniff_media_type
from codatdesk.store.db import read_session
from codatdesk.store.models import Expense

COLUMN = "receipt"


@dataclass
class ReceiptsImported:
    attached: int = 0
    unmatched: list[str] = field(default_factory=list)  # folder files whose stem is no imported reference
    refused: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What happened to the receipts, for the import's summary."""
        out = [f"{self.attached} receipt(s) attached"]
        if self.unmatched:
            out.append(f"{len(self.unmatched)} file(s) in the receipts folder match no reference (a file is "
                       f"matched by its name without extension): {', '.join(self.unmatched)}")
        out += [f"not attached: {reason}" for reason in self.refused]
        return out


def column_problem(cell: str, base: Path) -> str | None:
    """Why the ``receipt`` cell cannot be used (naming the path looked at), or None (empty is fine)."""
    if not cell:
        return None
    path = resolve(cell, base)
    if not path.is_file():
        return f"receipt file {cell!r} not found (looked for {path}); put it there or correct the path"
    with path.open("rb") as head:
        if sniff_media_type(head.read(32)) is None:
            return f"receipt file {cell!r} is not a {ACCEPTED} file"
    return None


def resolve(cell: str, base: Path) -> Path:
    path = Path(cell).expanduser()
    return path if path.is_absolute() else base / path


def attach_files(engine: Engine, company_id: str, wanted: Iterable[tuple[str, Path]]) -> ReceiptsImported:
    """Attach each (expense source key, file) pair; the expenses must be stored already."""
    files = receipt_files_for(engine)
    result = ReceiptsImported()
    wanted = list(wanted)
    with read_session(engine) as session:
        ids = dict(session.exec(select(Expense.source_key, Expense.id).where(
            Expense.company_id == company_id, col(Expense.source_key).in_({key for key, _ in wanted}))).all())
    for key, path in wanted:
        expense_id = ids.get(key)
        if expense_id is None:
            continue
        try:
            attach.attach(engine, files, expense_id, path)
            result.attached += 1
        except ReceiptRefused as refused:
            result.refused.append(str(refused))
    return result


def match_folder(folder: Path, references: dict[str, str]) -> tuple[list[tuple[str, Path]], list[str]]:
    """(source key, file) for each file in ``folder`` whose name without extension is a reference
    (``references``: reference -> source key; compared without case), and the files that match none."""
    by_reference = {reference.casefold(): key for reference, key in references.items() if reference}
    matched, unmatched = [], []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        key = by_reference.get(path.stem.casefold())
        if key is None:
            unmatched.append(path.name)
        else:
            matched.append((key, path))
    return matched, unmatched
