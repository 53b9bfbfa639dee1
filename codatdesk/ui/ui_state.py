"""Window geometry, splitter and column layout, remembered between runs.

An INI file in the data directory (never the Windows registry), so one
``--data-dir`` keeps everything of a run together and support can read it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter

from codatdesk import paths

FILE_NAME = "ui-state.ini"


class UiState:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / FILE_NAME
        self._settings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def value(self, key: str, default=None):
        return self._settings.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._settings.setValue(key, value)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, window: QMainWindow, name: str = "main") -> None:
        self._settings.setValue(f"{name}/geometry", window.saveGeometry())
        self._settings.setValue(f"{name}/state", window.saveState())

    def restore_window(self, window: QMainWindow, name: str = "main") -> bool:
        geometry = self._bytes(f"{name}/geometry")
        if geometry is not None:
            window.restoreGeometry(geometry)
        state = self._bytes(f"{name}/state")
        if state is not None:
            window.restoreState(state)
        return geometry is not None

    def save_splitter(self, splitter: QSplitter, key: str) -> None:
        self._settings.setValue(f"splitters/{key}", splitter.saveState())

    def restore_splitter(self, splitter: QSplitter, key: str) -> bool:
        state = self._bytes(f"splitters/{key}")
        return state is not None and splitter.restoreState(state)

    def save_header(self, header: QHeaderView, key: str) -> None:
        self._settings.setValue(f"headers/{key}", header.saveState())

    def restore_header(self, header: QHeaderView, key: str) -> bool:
        state = self._bytes(f"headers/{key}")
        return state is not None and header.restoreState(state)

    def sync(self) -> None:
        self._settings.sync()
