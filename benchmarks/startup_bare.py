"""The B5 alternative: a bare PySide6 window, with the same start-up mark as the app's probe."""

import json
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


class Probe(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Show and watched is window:
            with open(os.environ["CODATDESK_STARTUP_PROBE"], "w") as out:
                json.dump({"shown": time.monotonic()}, out)
            QTimer.singleShot(0, app.quit)
        return False


app = QApplication(sys.argv)
window = QMainWindow()
window.setWindowTitle("bare")
window.resize(1280, 800)
probe = Probe()
window.installEventFilter(probe)
window.show()
app.exec()
