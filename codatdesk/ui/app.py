"""Desktop entry point: ``run_gui(demo)`` (called by ``codatdesk`` / ``codatdesk --demo``)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from codatdesk import paths
from codatdesk.ui.crash import CrashReporter
from codatdesk.ui.icons import app_icon
from codatdesk.ui.single_instance import SingleInstance

log = logging.getLogger(__name__)


def make_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("codatdesk")
    app.setApplicationDisplayName("codatdesk")
    app.setDesktopFileName("codatdesk")
    app.setWindowIcon(app_icon())
    return app


def quit_on_signals(app: QApplication) -> Callable[[], None]:
    """Ctrl+C or SIGTERM closes the window properly (the core stops, state is saved).

    Python only runs signal handlers between bytecodes; a tiny timer gives it that chance
    while Qt's loop waits in C++.
    """
    def handler(_signum: int, _frame: object) -> None:
        for widget in app.topLevelWidgets():
            if widget.isWindow() and widget.isVisible():
                setattr(widget, "_confirmed_close", True)
                widget.close()
        app.quit()

    previous = {}
    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            previous[getattr(signal, name)] = signal.signal(getattr(signal, name), handler)
    keepalive = QTimer(app)
    keepalive.start(250)
    keepalive.timeout.connect(lambda: None)

    def restore() -> None:
        keepalive.stop()
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


def bring_to_front(window) -> None:  # noqa: ANN001
    window.setWindowState((window.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


def start_core(parent=None) -> tuple[object, Callable[[], None]] | None:  # noqa: ANN001
    """The real (non-demo) core; runs the first-run wizard when no API key is stored."""
    from codatdesk.engine.core import Core
    from codatdesk.settings import SettingError, Settings
    from codatdesk.store.db import open_database
    from codatdesk.ui.wizard import FirstRunWizard, needs_first_run

    try:
        settings = Settings()
    except SettingError as exc:
        QMessageBox.critical(parent, "Settings cannot be read", f"{exc}\n\nFix or delete the file and start again.")
        return None
    company_name = None
    if needs_first_run():
        wizard = FirstRunWizard(settings)
        if wizard.exec() == FirstRunWizard.DialogCode.Accepted:
            company_name = wizard.company_name
        # Cancelled: the window still opens (import, look around); pushing explains what is missing.
    db = open_database()
    core = Core(settings, db)
    company_id = settings.get("codat.company_id")
    if company_id:
        try:
            core.set_company(company_id, settings.get("codat.connection_id"), name=company_name)
        except Exception:  # noqa: BLE001 - the window can still open; the log has it
            log.exception("could not record the chosen company")
    core.start()

    def cleanup() -> None:
        core.stop()
        db.dispose()

    return core, cleanup


def run_gui(demo: bool = False) -> int:
    app = make_application()
    crash = CrashReporter(paths.log_dir() / "codatdesk.log")
    crash.install()
    instance = SingleInstance("demo" if demo else "main")
    if not instance.try_become_primary():
        log.info("codatdesk is already running; asked it to come forward")
        crash.uninstall()
        return 0
    try:
        if demo:
            from codatdesk.demo import start_demo

            started = start_demo()
        else:
            started = start_core()
        if started is None:
            return 2
        core, cleanup = started
        from codatdesk.ui.main_window import MainWindow

        window = MainWindow(core, demo=demo)
        instance.activated.connect(lambda: bring_to_front(window))
        from codatdesk.ui import startup_probe

        startup_probe.install(app, window)
        window.show()
        restore_signals = quit_on_signals(app)
        try:
            return app.exec()
        finally:
            restore_signals()
            window.bridge.detach()
            cleanup()
    finally:
        instance.release()
        crash.uninstall()
