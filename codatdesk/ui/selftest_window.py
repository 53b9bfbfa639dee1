"""The Qt half of ``codatdesk --self-test``: open the main window, let it load, render it to a pixmap.

Kept in ui/ so the self-test itself stays Qt-free like the rest of the core.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_COLOURS = 8  # a blank or single-colour grab has one or two


@dataclass(frozen=True)
class WindowReport:
    platform: str
    width: int
    height: int
    rows: int
    colours: int
    shown_after: float  # seconds from creating the window to its first full render


def choose_platform() -> None:
    """Render offscreen when there is no display (CI, ssh), before Qt picks a platform plugin."""
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if sys.platform.startswith("linux") and no_display and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def render_main_window(core: Any, state_dir: Path, expected_rows: int, timeout: float = 10.0) -> WindowReport:
    """Show ``MainWindow(core, demo=True)``, wait for ``expected_rows`` rows, grab it, close it.

    Raises RuntimeError (with what went wrong) if the rows never arrive or the picture is blank.
    """
    choose_platform()
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from codatdesk.ui.app import make_application
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    app = make_application()
    previous_handler = qInstallMessageHandler(_quiet_offscreen_noise)
    started = time.monotonic()
    window = MainWindow(core, demo=True, ui_state=UiState(state_dir / "ui-state.ini"))
    try:
        window.resize(1200, 760)
        window.show()
        deadline = started + timeout
        while window.model.rowCount() < expected_rows:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the window showed {window.model.rowCount()} of {expected_rows} expenses "
                                   f"after {timeout:.0f} s")
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()
        image = window.grab().toImage()
        shown_after = time.monotonic() - started
        colours = _distinct_colours(image)
        if image.isNull() or colours < MIN_COLOURS:
            raise RuntimeError(f"the window rendered blank ({image.width()}x{image.height()}, {colours} colours)")
        return WindowReport(QApplication.platformName(), image.width(), image.height(), window.model.rowCount(),
                            colours, shown_after)
    finally:
        window._confirmed_close = True  # never ask "pushes still running?" here
        window.close()
        window.bridge.detach()
        window.deleteLater()
        app.processEvents()
        qInstallMessageHandler(previous_handler)


def _quiet_offscreen_noise(mode: Any, context: Any, message: str) -> None:
    # The offscreen platform warns about window-manager hints it cannot honour; say everything else.
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _distinct_colours(image: Any, limit: int = 64) -> int:
    """Colours on a coarse grid (cheap; enough to tell a drawn window from a blank one)."""
    seen: set[int] = set()
    step_x, step_y = max(1, image.width() // 60), max(1, image.height() // 40)
    for y in range(0, image.height(), step_y):
        for x in range(0, image.width(), step_x):
            seen.add(image.pixel(x, y))
            if len(seen) >= limit:
                return len(seen)
    return len(seen)
