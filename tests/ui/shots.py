"""Where screenshot tests save their PNGs: ``$CODATDESK_SHOTS`` if set, else the test's ``tmp_path`` (printed)."""

from __future__ import annotations

import os
from pathlib import Path


def shots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CODATDESK_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def save(widget, folder: Path, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # pending layout after a text change: shoot what a person would see
    path = folder / f"{name}.png"
    widget.grab().save(str(path))
    return path
