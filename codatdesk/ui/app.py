"""Desktop entry point: ``run_gui(demo)`` (called by ``codatdesk`` / ``codatdesk --demo``)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from codatdesk import paths
from codatdesk.ui.crash import CrashReporter
from codatdesk.ui.icons import app_icon
from codatdesk.ui.single_instance import SingleInstance
from codatdesk.ui.workers import run_in_background

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
                widget._confirmed_close = True
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


def bring_to_front(window) -> None:
    window.setWindowState((window.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


DEMO = "demo"  # prepare_core's answer when the first-run wizard's "Open the demo" was chosen


def prepare_core(parent=None) -> tuple[Any, str | None] | str | None:
    """On the GUI thread, before the core: the settings, and the first-run wizard when no API key is stored.

    Returns ``(settings, company name from the wizard)``, ``DEMO`` when the user chose the demo in the
    wizard, or None when the settings cannot be read.
    """
    from codatdesk.settings import SettingError, Settings
    from codatdesk.ui.wizard import FirstRunWizard, needs_first_run

    try:
        settings = Settings()
    except SettingError as exc:
        QMessageBox.critical(parent, "Settings cannot be read", f"{exc}\n\nFix or delete the file and start again.")
        return None
    company_name = None
    if needs_first_run():
        wizard = FirstRunWizard(settings, parent=parent)
        result = wizard.exec()
        if wizard.demo_chosen:
            return DEMO
        if result == FirstRunWizard.DialogCode.Accepted:
            company_name = wizard.company_name
        # Cancelled: the window still opens (import, look around); pushing explains what is missing.
    return settings, company_name


def start_core(settings: Any, company_name: str | None = None) -> tuple[Any, Callable[[], None]]:
    """The real (non-demo) core, opened and started. No Qt: the app runs it on a worker thread."""
    from codatdesk.engine.core import open_and_start

    return open_and_start(settings, company_name)


DEMO_TUNNEL_TEXT = "Tunnel: not needed (demo)"


def quiet_demo_alarms(window: Any, core: Any) -> None:
    """The demo's Codat runs on this computer: no tunnel alarm, and "Codat: …" asks the sandbox for a state."""
    window.health.items["tunnel"].set(DEMO_TUNNEL_TEXT, "ok", "The demo's Codat sandbox runs on this computer and "
                                      "calls the listener directly: no public address is needed.")
    if core.company_id:
        window.check_connection(core.company_id)


class CoreStartup:
    """Starts the core on a worker thread while the window shows 'Loading…', and stops it at the end.

    The window is shown first (a bare window's time to screen, not the imports of the
    store, HTTP and listener stacks, the migration check and the core's threads), then
    ``begin`` runs the start-up job off the GUI thread and hands the core to
    ``window.attach_core`` on the GUI thread.
    """

    def __init__(self, window, demo: bool) -> None:
        self._window = window
        self._demo = demo
        self._started: Future[tuple[Any, Callable[[], None]]] | None = None
        self.exit_code: int | None = None  # set when the start failed

    def begin(self) -> None:
        if self._demo:
            def job() -> tuple[Any, Callable[[], None]]:
                from codatdesk.demo import start_demo

                return start_demo()
        else:
            prepared = prepare_core(self._window)
            if prepared is None:
                self._give_up(2)
                return
            if prepared == DEMO:
                self._demo = True
                self._window.demo = True
                self._window.setWindowTitle("codatdesk — demo (local Codat sandbox)")
                self.begin()
                return
            settings, company_name = prepared

            def job() -> tuple[Any, Callable[[], None]]:
                return start_core(settings, company_name)

        started: Future[tuple[Any, Callable[[], None]]] = Future()
        self._started = started

        def run() -> tuple[Any, Callable[[], None]]:  # on the worker thread
            try:
                result = job()
            except BaseException as exc:
                started.set_exception(exc)
                raise
            started.set_result(result)
            return result

        run_in_background(run, self._attach, self._failed, owner=self._window)

    def _attach(self, result: tuple[Any, Callable[[], None]]) -> None:
        self._window.attach_core(result[0])
        if self._demo:
            quiet_demo_alarms(self._window, result[0])
        from codatdesk.heap import settle_after_start

        settle_after_start()  # the core and the first table are loaded: see codatdesk/heap.py

    def _failed(self, error: BaseException) -> None:
        log.error("codatdesk could not start", exc_info=error)
        QMessageBox.critical(self._window, "codatdesk could not start",
                             f"{type(error).__name__}: {error}\n\nThe log has the details: {paths.log_dir()}")
        self._give_up(1)

    def _give_up(self, code: int) -> None:
        self.exit_code = code
        self._window._confirmed_close = True
        self._window.close()
        QApplication.instance().quit()

    def finish(self) -> None:
        """After the event loop: wait for a start still running, then stop what it started."""
        if self._started is None:
            return
        try:
            _core, cleanup = self._started.result()
        except BaseException:  # noqa: BLE001 - reported by _failed (or the window closed first: logged there)
            return
        cleanup()


def run_gui(demo: bool = False) -> int:
    app = make_application()
    crash = CrashReporter(paths.log_dir() / "codatdesk.log")
    crash.install()
    instance = SingleInstance("demo" if demo else "main")
    if not instance.try_lock():
        log.info("codatdesk is already running; asked it to come forward")
        crash.uninstall()
        return 0
    try:
        from codatdesk.ui.main_window import MainWindow

        window = MainWindow(demo=demo)
        instance.activated.connect(lambda: bring_to_front(window))
        from codatdesk.ui import startup_probe

        startup_probe.install(app, window)
        window.show()
        QTimer.singleShot(0, instance.listen)  # later starts can ask us to come forward from here on
        startup = CoreStartup(window, demo)
        QTimer.singleShot(0, startup.begin)  # once the window is on screen
        restore_signals = quit_on_signals(app)
        try:
            code = app.exec()
        finally:
            restore_signals()
            window.bridge.detach()
            startup.finish()
        return startup.exit_code if startup.exit_code is not None else code
    finally:
        instance.release()
        crash.uninstall()
