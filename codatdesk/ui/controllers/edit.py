"""Editing by hand: add, edit, reset, delete, copy. What may be edited and what an expense must
hold are the core's answers (``CoreAPI.can_edit``, ``Core.add_expense``/``update_expense``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from codatdesk.states import ExpenseStatus
from codatdesk.ui.controllers.host import confirm
from codatdesk.ui.expense_model import Column
from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI, ExpenseRow, ExpenseValues, TrackingChoice
    from codatdesk.ui.controllers.host import Host


class EditController(QObject):
    def __init__(self, host: Host, window: QWidget) -> None:
        super().__init__(window)
        self.host = host
        self.window = window
        self.expense_dialog: QWidget | None = None
        self.delete_box: QMessageBox | None = None
        self.conflict_dialog: QWidget | None = None
        self._opening = False  # a dialog's data is being read (edit, add)

    def _suppliers(self) -> list[str]:
        model = self.host.model
        return sorted({model.row_at(i).supplier for i in range(model.rowCount())})

    def add_expense(self) -> None:
        core = self.host.core
        assert core is not None
        if self._opening:
            return
        company_id = self.host.company_id or core.company_id
        if company_id is None:
            from codatdesk.importer import LOCAL_COMPANY_ID

            company_id = LOCAL_COMPANY_ID
        model = self.host.model
        currency = model.row_at(0).currency if model.rowCount() else "GBP"
        self._read_then("Opening a new expense…", lambda: core.tracking_categories(company_id),
                        lambda tracking: self._open_add(core, company_id, currency, tracking))

    def _open_add(self, core: CoreAPI, company_id: str, currency: str, tracking: list[TrackingChoice]) -> None:
        from codatdesk.ui.dialogs.expense_dialog import ExpenseDialog

        dialog = ExpenseDialog(suppliers=self._suppliers(), default_currency=currency,
                               tracking_choices=tracking, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def save() -> None:
            values = dialog.result_values
            run_in_background(lambda: core.add_expense(company_id, values), self._after_add,
                              self.host.background_failed, owner=self.window)

        dialog.accepted.connect(save)
        self.expense_dialog = dialog
        dialog.open()

    def _read_then(self, message: str, read: Callable[[], Any], open_dialog: Callable[[Any], None]) -> None:
        """Read what a dialog shows off the GUI thread (a team's database may be across the network), then open
        it; one at a time, so a second click while reading opens nothing twice."""
        self._opening = True
        self.expense_dialog = None
        bar = self.host.statusBar()
        bar.showMessage(message, 5000)

        def done(result: Any) -> None:
            self._opening = False
            if bar.currentMessage() == message:
                bar.clearMessage()
            open_dialog(result)

        def failed(error: BaseException) -> None:
            self._opening = False
            self.host.background_failed(error)

        run_in_background(read, done, failed, owner=self.window)

    def _after_add(self, expense_id: int) -> None:
        host, model, combo = self.host, self.host.model, self.host.company_combo
        if model.company_id is not None and combo.findData(model.company_id) < 0:
            host.reload_companies()
        model.refresh_row(expense_id)
        if combo.count() == 0 or model.position_of(expense_id) is None:
            host.reload_companies()
        host.select_expense(expense_id)
        host.statusBar().showMessage("Expense added. Push it with Ctrl+P.", 6000)

    def edit_selected(self) -> None:
        core = self.host.core
        rows = self.host.selected_rows()
        if core is None or len(rows) != 1 or self._opening:
            return
        row = rows[0]

        def read() -> tuple[bool, ExpenseValues | None, list[TrackingChoice]]:
            # A row already in the ledger is edited only where Codat takes updates (the Expenses route's Payments).
            in_ledger = not core.can_edit(row.status) and core.can_update_in_ledger(row.id)
            if not core.can_edit(row.status) and not in_ledger:
                return False, None, []
            expense = core.expense_values(row.id)
            return in_ledger, expense, core.tracking_categories(expense.company_id) if expense else []

        self._read_then("Reading the expense…", read, lambda answer: self._open_edit(row, *answer))

    def _open_edit(self, row: ExpenseRow, in_ledger: bool, expense: ExpenseValues | None,
                   tracking: list[TrackingChoice]) -> None:
        core = self.host.core
        if core is None:
            return
        if expense is None:
            editable = core.can_edit(row.status) or in_ledger  # then it was deleted meanwhile
            self.host.statusBar().showMessage("That expense is no longer there." if editable else
                                              f"An expense that is {row.status.value} cannot be edited.", 6000)
            return
        from codatdesk.ui.dialogs.expense_dialog import ExpenseDialog

        dialog = ExpenseDialog(expense.fields(), suppliers=self._suppliers(), lines=expense.lines,
                               tracking_choices=tracking, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if in_ledger:
            dialog.setWindowTitle("Update the expense in the ledger")
            dialog.setToolTip("Saving sends the change to the ledger through Codat; the row shows how it went.")

        opened = expense.fields()

        def save() -> None:
            # Only what this person changed: saving it over a colleague's newer save keeps their other changes.
            changed = {k: v for k, v in dialog.result_values.items() if opened.get(k, v) != v or k not in opened}
            if in_ledger:
                self._update_in_ledger(row.id, changed)
            else:
                self._save(row.id, changed, expense.version)

        dialog.accepted.connect(save)
        self.expense_dialog = dialog
        dialog.open()

    def _save(self, expense_id: int, changed: dict, version: int) -> None:
        """Save over ``version`` (the one the person saw); someone else's newer save opens the conflict dialog."""
        from codatdesk.engine.edits import EditConflict

        core = self.host.core
        assert core is not None

        def failed(error: BaseException) -> None:
            if isinstance(error, EditConflict):
                self._show_conflict(error)
            else:
                self.host.background_failed(error)

        run_in_background(lambda: core.update_expense(expense_id, changed, expected_version=version),
                          lambda _r: self.host.statusBar().showMessage("Expense saved.", 5000),
                          failed, owner=self.window)

    def _update_in_ledger(self, expense_id: int, changed: dict) -> None:
        """Send the edit as an update (Codat's PUT); a refusal's words are on the row and in the status bar."""
        from codatdesk.engine.expenses_update import UpdateRefused

        core = self.host.core
        assert core is not None

        def failed(error: BaseException) -> None:
            if isinstance(error, UpdateRefused):
                self.host.statusBar().showMessage(f"Not updated: {error}", 10000)
            else:
                self.host.background_failed(error)

        if not changed:
            return
        run_in_background(lambda: core.update_in_ledger(expense_id, changed),
                          lambda _r: self.host.statusBar().showMessage("Update sent to the ledger.", 5000),
                          failed, owner=self.window)

    def _show_conflict(self, conflict) -> None:
        from codatdesk.ui.dialogs.edit_conflict import EditConflictDialog

        dialog = EditConflictDialog(conflict, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._save(conflict.expense_id, conflict.mine, conflict.their_version))
        dialog.rejected.connect(lambda: self.host.statusBar().showMessage("Kept the version saved by "
                                                                          f"{conflict.their_author or 'someone else'}.",
                                                                          6000))
        self.conflict_dialog = dialog
        dialog.open()

    def reset_selected(self) -> None:
        core = self.host.core
        ids = [r.id for r in self.host.selected_rows() if r.status is ExpenseStatus.FAILED]
        if core is None or not ids:
            return

        def reset_all() -> int:
            for expense_id in ids:
                core.reset_expense(expense_id)
            return len(ids)

        run_in_background(reset_all, lambda n: self.host.statusBar().showMessage(
            f"{n} expense(s) back to Not pushed.", 6000), self.host.background_failed, owner=self.window)

    def delete_selected(self) -> None:
        rows = self.host.selected_rows()
        deletable = [r.id for r in rows if r.status is ExpenseStatus.NOT_PUSHED]
        kept = len(rows) - len(deletable)
        if not deletable:
            return
        text = f"Delete {len(deletable)} expense(s) that were never pushed? This cannot be undone."
        if kept:
            text += f"\n\n{kept} selected expense(s) were pushed and stay (the ledger keeps its audit trail)."
        self.delete_box = confirm(self.window, QMessageBox.Icon.Question, "Delete expenses", text,
                                  f"&Delete {len(deletable)}", lambda: self._delete(deletable))

    def _delete(self, ids: list[int]) -> None:
        core = self.host.core
        assert core is not None

        def done(count: int) -> None:
            self.host.model.refresh_rows(ids)
            self.host.statusBar().showMessage(f"{count} expense(s) deleted.", 6000)

        run_in_background(lambda: core.delete_expenses(ids), done, self.host.background_failed, owner=self.window)

    def copy_selected(self) -> None:
        rows = self.host.selected_rows()
        if not rows:
            return
        model = self.host.model
        lines = ["\t".join(model.headerData(c, Qt.Orientation.Horizontal) for c in Column)]
        for row in rows:
            lines.append("\t".join(model.display_text(row, c) for c in Column))
        QGuiApplication.clipboard().setText("\n".join(lines))
        self.host.statusBar().showMessage(f"{len(rows)} row(s) copied.", 4000)
