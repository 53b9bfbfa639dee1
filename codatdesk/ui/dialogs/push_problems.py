"""Before anything is sent: which selected rows cannot be pushed, and why."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class PushProblemsDialog(QDialog):
    """Lists every problem; offers "Push the other N" when some rows can go.

    ``exec()`` returns Accepted only when the user chose to push the rest.
    """

    def __init__(self, problems: list[tuple[int, str, str]], pushable: int, parent: QWidget | None = None) -> None:
        """``problems``: (expense id, what the expense is, reason) per problem."""
        super().__init__(parent)
        self.setWindowTitle("Some expenses cannot be pushed")
        blocked = len({p[0] for p in problems})
        if pushable:
            text = (f"{blocked} of the selected expenses cannot be pushed. Nothing has been sent yet. "
                    f"You can push the other {pushable} now and fix these later.")
        else:
            text = "None of the selected expenses can be pushed. Nothing has been sent."
        intro = QLabel(text)
        intro.setWordWrap(True)

        self.table = QTableWidget(len(problems), 3)
        self.table.setHorizontalHeaderLabels(["#", "Expense", "Why it cannot be pushed"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for row, (expense_id, what, reason) in enumerate(problems):
            for column, value in enumerate((str(expense_id), what, reason)):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(1, 240)
        self.table.resizeRowsToContents()

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
        self.resize(720, 360)
