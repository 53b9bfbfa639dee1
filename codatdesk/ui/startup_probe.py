"""Start-up marks for the start-up benchmark (B5 in benchmarks/), from source or a bundle.

With ``CODATDESK_STARTUP_PROBE=<file>`` set, the app writes to that file, as JSON, the
``time.monotonic()`` at which its main window was first shown and at which the
expense table first painted with rows, then quits. Unset, nothing is installed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

ENV = "CODATDESK_STARTUP_PROBE"
# An empty table never paints rows: give up after this. B5 seeds rows and allows longer
# (``CODATDESK_STARTUP_PROBE_WAIT_MS``), as a loaded machine may take more than 3 s to fill it.
EMPTY_TABLE_WAIT_MS = 3000


class _Probe(QObject):
    def __init__(self, app: QApplication, window, path: Path) -> None:
        super().__init__(window)
        self._app, self._window, self._path = app, window, path
        self._marks: dict[str, float | None] = {"shown": None, "filled": None}
        window.installEventFilter(self)
        window.table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self._window and kind == QEvent.Type.Show and self._marks["shown"] is None:
            self._marks["shown"] = time.monotonic()
            QTimer.singleShot(int(os.environ.get(f"{ENV}_WAIT_MS", EMPTY_TABLE_WAIT_MS)), self._finish)
        elif kind == QEvent.Type.Paint and self._marks["filled"] is None and self._window.model.rowCount() > 0:
            QTimer.singleShot(0, self._filled)  # after this paint is done
        return False

    def _filled(self) -> None:
        if self._marks["filled"] is None:
            self._marks["filled"] = time.monotonic()
            self._finish()

    def _finish(self) -> None:
        if not self._path.exists():
            self._path.write_text(json.dumps({**self._marks, "rows": self._window.model.rowCount()}))
            self._window.close()
            self._app.quit()


def install(app: QApplication, window) -> None:
    """Call before ``window.show()``; does nothing unless the environment asks for it."""
    path = os.environ.get(ENV)
    if path:
        _Probe(app, window, Path(path))
