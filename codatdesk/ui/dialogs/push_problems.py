"""Before anything is sent: which selected rows cannot be pushed, why, and what to do about it.

Each row's fix comes from ``engine.fixes.fix_for`` (the reason decides it); its button asks the
window to open the right place (Mapping on the value, the expense, the rate table on the currency)
and closes this dialog, since nothing has been sent yet. A fix with alternatives (an unknown
supplier: map it, or allow creating suppliers) gets one button each.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from codatdesk.engine.fixes import NONE, Fix, fix_for

COLUMNS = ["#", "Expense", "Why it cannot be pushed", "What to do", ""]
FIX_COLUMN, ACTION_COLUMN = 3, 4


class PushProblemsDialog(QDialog):
    """Lists every problem with its fix; offers "Push the other N" when some rows can go.

    ``exec()`` returns Accepted only when the user chose to push the rest. ``fixRequested``
    carries (expense id, Fix) when a fix button is pressed; the dialog then closes (rejected).
    """

    fixRequested = Signal(int, object)

    def __init__(self, problems: list[tuple], pushable: int, parent: QWidget | None = None) -> None:
        """``problems``: (expense id, what the expense is, reason[, Fix or PushProblem]) per problem."""
        super().__init__(parent)
        self.setWindowTitle("Some expenses cannot be pushed")
        blocked = len({p[0] for p in problems})
        if pushable:
            text = (f"{blocked} of the selected expenses cannot be pushed. Nothing has been sent yet. "
                    f"You can push the other {pushable} now and fix these later.")
        else:
            text = "None of the selected expenses can be pushed. Nothing has been sent."
        intro = QLabel(text + " A button under “What to do” opens the place to fix it.")
        intro.setWordWrap(True)

        self.fixes: list[Fix] = []
        self.fix_buttons: list[QPushButton | None] = []  # per row: the fix's own button
        self.row_buttons: list[list[QPushButton]] = []  # per row: every button (the fix and its alternatives)
        self.table = QTableWidget(len(problems), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for row, problem in enumerate(problems):
            expense_id, what, reason = problem[:3]
            given = problem[3] if len(problem) > 3 else reason
            fix = given if isinstance(given, Fix) else fix_for(given)
            self.fixes.append(fix)
            for column, value in enumerate((str(expense_id), what, reason, fix.text)):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
            self.table.setCellWidget(row, ACTION_COLUMN, self._fix_button(expense_id, fix))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(FIX_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(ACTION_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(1, 180)
        self.table.setColumnWidth(FIX_COLUMN, 280)
        # Rows follow the columns' widths: wrapped at the width shown, not at the width before showing.
        self._fit_rows = QTimer(self, singleShot=True, interval=0, timeout=self.table.resizeRowsToContents)
        header.sectionResized.connect(lambda *_args: self._fit_rows.start())

        buttons = QDialogButtonBox()
        if pushable:
            self.push_button = buttons.addButton(f"&Push the other {pushable}", QDialogButtonBox.ButtonRole.AcceptRole)
            self.push_button.setDefault(True)
            buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        else:
            self.push_button = None
            buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(1000, 420)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows.start()

    def _fix_button(self, expense_id: int, fix: Fix) -> QWidget:
        cell = QWidget()  # the button, kept at its own height in a row as tall as the wrapped text
        row = QHBoxLayout(cell)
        row.setContentsMargins(4, 2, 4, 2)
        buttons = []
        for choice in fix.choices() if fix.kind != NONE else []:
            button = QPushButton(choice.action_label)
            button.setAutoDefault(False)  # Enter still means "Push the other N"
            button.setAccessibleName(f"{choice.action_label.rstrip('…')} expense {expense_id}")
            button.clicked.connect(lambda _checked=False, i=expense_id, f=choice: self._choose(i, f))
            row.addWidget(button)
            buttons.append(button)
        self.fix_buttons.append(buttons[0] if buttons else None)
        self.row_buttons.append(buttons)
        return cell

    def _choose(self, expense_id: int, fix: Fix) -> None:
        self.fixRequested.emit(expense_id, fix)
        self.reject()
