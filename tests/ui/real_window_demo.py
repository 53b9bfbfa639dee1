"""Run by tests/ui/test_real_window.py under Xvfb: the demo in a real X11 window, pushed, then a screenshot
of the whole screen. Prints one line: the final statuses counted."""

from __future__ import annotations

import sys
from collections import Counter

from PySide6.QtCore import QTimer

from codatdesk.demo import start_demo
from codatdesk.ui.app import make_application
from codatdesk.ui.main_window import MainWindow

out = sys.argv[1]
app = make_application()
core, cleanup = start_demo(push_delay=0.2)
window = MainWindow(core, demo=True)
window._confirmed_close = True
window.resize(1280, 720)
window.show()
deadline = QTimer(singleShot=True, interval=30_000)
deadline.timeout.connect(lambda: app.exit(3))


def statuses() -> Counter:
    return Counter(window.model.row_at(i).status.value for i in range(window.model.rowCount()))


batches: list = []
window.pushStarted.connect(batches.append)


def push() -> None:
    window.table.selectAll()
    window.push_action.trigger()
    poll.start()


def check() -> None:
    dialog = getattr(window, "push_problems_dialog", None)
    if not batches and dialog is not None and dialog.isVisible() and dialog.push_button is not None:
        dialog.push_button.click()  # the sample's two unknown payment accounts: push the other ten
        return
    counts = statuses()
    # "Done" needs a row past In progress too: right after the POSTs the table may not show them sent yet.
    if batches and batches[0].done.is_set() and counts and counts.get("Push complete", 0) + counts.get("Push failed", 0) \
            and all(s in ("Push complete", "Push failed", "Not pushed") for s in counts):
        poll.stop()
        window.table.clearSelection()
        QTimer.singleShot(300, finish)  # a few frames for the last repaint on the real screen


def finish() -> None:
    app.primaryScreen().grabWindow(0).save(out)
    print(dict(statuses()), flush=True)
    app.exit(0)


poll = QTimer(interval=50)
poll.timeout.connect(check)
QTimer.singleShot(500, push)
deadline.start()
code = app.exec()
window.bridge.detach()
cleanup()
sys.exit(code)
