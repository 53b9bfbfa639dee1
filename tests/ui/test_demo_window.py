"""The README's run command, end to end: the demo window pushes the sample expenses live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QPalette

from codatdesk.demo import start_demo
from codatdesk.states import ExpenseStatus as S
from codatdesk.ui.dialogs.push_problems import PushProblemsDialog
from codatdesk.ui.main_window import MainWindow
from codatdesk.ui.status_style import style_for
from tests.ui.helpers import dark_palette

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def test_demo_push_explains_blocked_rows_and_turns_the_rest_green(qtbot, qapp):
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
        # The sample pays two expenses from accounts the ledger does not have (CARD-9, 777): they are
        # explained before anything is sent (#12), and the user pushes the other ten.
        qtbot.waitUntil(lambda: isinstance(getattr(window, "push_problems_dialog", None), PushProblemsDialog)
                        and window.push_problems_dialog.isVisible(), timeout=10_000)
        dialog = window.push_problems_dialog
        shown = {dialog.table.item(r, 1).text(): dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
        assert len(shown) == 2, shown
        assert any("Amazon Business" in what for what in shown) and any("WeWork" in what for what in shown), shown
        assert all("is not one of the ledger's active bank accounts" in why for why in shown.values()), shown
        assert "payment account CARD-9" in " ".join(shown.values()) and "payment account 777" in " ".join(shown.values())
        assert dialog.push_button.text().replace("&", "") == "Push the other 10"
        dialog.push_button.click()

        def statuses():
            return [window.model.row_at(i).status for i in range(window.model.rowCount())]

        qtbot.waitUntil(lambda: statuses().count(S.COMPLETE) == 10, timeout=30_000)
        assert statuses().count(S.NOT_PUSHED) == 2 and not any(s is S.FAILED for s in statuses())
        blocked = [window.model.row_at(i) for i in range(12) if window.model.row_at(i).status is S.NOT_PUSHED]
        assert {row.supplier for row in blocked} == {"Amazon Business", "WeWork"}
        window.table.clearSelection()
        window.select_expense(blocked[0].id)
        # The row says why it was not sent, and how to fix it.
        qtbot.waitUntil(lambda: "is not one of the ledger's active bank accounts" in
                        window.details.browser.toPlainText(), timeout=5_000)
        assert "map it in Mappings, or edit the expense" in window.details.browser.toPlainText()

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
