"""Pushing: explain before sending, send, retry the failed, push again anyway, check with Codat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from codatdesk.states import ExpenseStatus
from codatdesk.ui.controllers.host import confirm
from codatdesk.ui.formatting import format_money
from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.ui.controllers.host import Host


class PushController(QObject):
    checking = Signal()  # a check before sending started (Push waits for it)
    batchStarted = Signal(object)  # the core's PushBatch
    sending = Signal(list, int)  # the ids sent, how many more the check held back (the push summary)

    def __init__(self, host: Host, window: QWidget) -> None:
        super().__init__(window)
        self.host = host
        self.window = window  # parent of the dialogs, owner of the background calls
        self.problems_dialog: QWidget | None = None
        self.again_anyway_box: QMessageBox | None = None

    def describe(self, expense_id: int) -> str:
        row = self.host.model.row_for_id(expense_id)
        if row is None:
            return f"expense #{expense_id}"
        return f"{row.date.isoformat()} · {row.supplier} · {format_money(row.total, row.currency)} {row.currency}"

    def push_selected(self) -> None:
        ids = self.host.selected_ids()
        if not ids:
            self.host.statusBar().showMessage("Select the expenses to push first.", 5000)
            return
        self.push_ids(ids)

    def push_ids(self, ids: list[int], *, again_anyway: bool = False) -> None:
        """Every push path comes here: what ``PushEngine.check`` would refuse (mapping, reference, create
        model, rate) is explained with its fix before anything is sent, and only the rest is sent."""
        core = self.host.core
        assert core is not None
        self.checking.emit()
        self.host.statusBar().showMessage(f"Checking {len(ids)} expense(s) before sending…")
        run_in_background(lambda: core.check_push(ids, again_anyway=again_anyway),
                          lambda checked: self._confirm_push(ids, checked, again_anyway),
                          self.host.background_failed, owner=self.window)

    def _confirm_push(self, ids: list[int], checked: Any, again_anyway: bool = False) -> None:
        """``checked``: the core's ``CheckedPush``; the push takes it back (no second check if nothing changed)."""
        self.host.update_actions()
        self.host.statusBar().clearMessage()
        problems = list(checked.problems)
        blocked = {p.expense_id for p in problems}
        pushable = [i for i in ids if i not in blocked]
        if not problems:
            self._start_push(pushable, again_anyway, checked=checked)
            return
        held_back = len(ids) - len(pushable)
        from codatdesk.engine.fixes import fix_for
        from codatdesk.ui.dialogs.push_problems import PushProblemsDialog

        dialog = PushProblemsDialog([(p.expense_id, self.describe(p.expense_id), p.reason, fix_for(p))
                                     for p in problems], len(pushable), self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fixRequested.connect(lambda expense_id, fix: self.host.apply_fix(expense_id, fix, recheck=ids))
        if pushable:
            dialog.accepted.connect(lambda: self._start_push(pushable, again_anyway, held_back, checked=checked))
        self.problems_dialog = dialog
        dialog.destroyed.connect(lambda _obj=None: self._forget_dialog(dialog))
        dialog.open()

    def _forget_dialog(self, dialog: QWidget) -> None:
        if self.problems_dialog is dialog:  # a closed dialog is gone (WA_DeleteOnClose): no dangling reference
            self.problems_dialog = None

    def _start_push(self, ids: list[int], again_anyway: bool = False, held_back: int = 0, *,
                    checked: Any = None) -> None:
        core = self.host.core
        if not ids or core is None:
            return
        self.sending.emit(list(ids), held_back)
        send = core.push_again_anyway if again_anyway else core.push
        run_in_background(lambda: send(ids, checked=checked), self._on_batch_started, self.host.background_failed,
                          owner=self.window)

    def _on_batch_started(self, batch: Any) -> None:
        if batch.total <= 1:
            self.host.statusBar().showMessage("Sent to Codat; the status changes when Codat answers.", 8000)
        self.batchStarted.emit(batch)

    def retry_failed(self) -> None:
        """Push the company's failed expenses again, through the same check as Push: a failure that
        nothing changed (an unmapped value, a missing rate) is explained, not sent to fail again."""
        core = self.host.core
        assert core is not None
        model = self.host.model
        ids = [row.id for row in (model.row_at(i) for i in range(model.rowCount())) if core.can_retry(row.status)]
        if not ids:
            self.host.statusBar().showMessage("Nothing to retry: no failed expenses here (expenses of unknown "
                                              "outcome are settled by Codat's answer, or by Push again anyway).", 8000)
            return
        self.push_ids(ids)

    def push_again_anyway_selected(self) -> None:
        """Outcome unknown: Codat timed out, and the write may still land. Ask before sending it again."""
        ids = [r.id for r in self.host.selected_rows() if r.status is ExpenseStatus.OUTCOME_UNKNOWN]
        if not ids:
            return
        text = (f"Codat timed out on the last push of {len(ids)} expense(s). Codat documents that a timed-out "
                "push may still be written to the accounting software later.\n\n"
                "If you push again, the ledger may end up with each of them twice (a duplicate). codatdesk keeps "
                "checking with Codat and turns them Push complete if the first push lands.\n\n"
                "Push again only if you have checked the ledger and they are not there.")
        self.again_anyway_box = confirm(self.window, QMessageBox.Icon.Warning, "Push again anyway?", text,
                                        f"Push {len(ids)} again (risk a duplicate)",
                                        lambda: self.push_ids(ids, again_anyway=True))

    def reconcile_now(self) -> None:
        core = self.host.core
        assert core is not None
        run_in_background(core.reconcile_now, lambda _r: self.host.statusBar().showMessage(
            "Checking every push in progress with Codat…", 6000), self.host.background_failed, owner=self.window)
