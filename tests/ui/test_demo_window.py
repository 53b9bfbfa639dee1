"""The README's run command, end to end: the demo window pushes the sample expenses live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QPalette

from codatdesk.demo import start_demo
from codatdesk.states import ExpenseStatus as S
from codatdesk.ui.main_window import MainWindow
from codatdesk.ui.status_style import style_for
from tests.ui.helpers import dark_palette

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def test_demo_push_turns_rows_green_and_red_with_reasons(qtbot, qapp):
    core, cleanup = start_demo(push_delay=0.1)
    window = MainWindow(core, demo=True)
    qtbot.addWidget(window)
    window.resize(1400, 760)
    window.show()
    original = QPalette(qapp.palette())
    try:
        qtbot.waitUntil(lambda: window.model.rowCount() == 12, timeout=10_000)
        window.table.selectAll()
        window.push_action.trigger()

        def statuses():
            return [window.model.row_at(i).status for i in range(window.model.rowCount())]

        qtbot.waitUntil(lambda: all(s.is_final for s in statuses()), timeout=30_000)
        assert statuses().count(S.COMPLETE) == 10 and statuses().count(S.FAILED) == 2
        failed = [window.model.row_at(i) for i in range(12) if window.model.row_at(i).status is S.FAILED]
        assert {row.supplier for row in failed} == {"Amazon Business", "WeWork"}
        window.table.clearSelection()
        window.select_expense(failed[0].id)
        qtbot.waitUntil(lambda: "No account was found" in window.details.browser.toPlainText(), timeout=5_000)

        OUT.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(OUT / "demo-light.png"))
        qapp.setPalette(dark_palette())
        qtbot.wait(50)  # let the palette change repaint (an event-loop turn, not a timing assumption)
        assert window.grab().save(str(OUT / "demo-dark.png"))
        assert style_for(S.COMPLETE).light.background != style_for(S.FAILED).light.background
    finally:
        qapp.setPalette(original)
        window._confirmed_close = True
        window.close()
        window.bridge.detach()
        cleanup()
