"""Two people saved one expense: show both versions side by side, lose neither.

Opened when ``Core.update_expense`` refuses a save made over someone else's (``edits.EditConflict``).
Nothing was saved yet; the person chooses: save theirs over, or keep what is stored.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from codatdesk.engine.edits import FIELD_NAMES, EditConflict


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class EditConflictDialog(QDialog):
    """Accepted: save mine over the stored version (``conflict.their_version``); rejected: keep theirs."""

    def __init__(self, conflict: EditConflict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conflict = conflict
        self.setWindowTitle("Someone else saved this expense")
        layout = QVBoxLayout(self)
        who = conflict.their_author or "Someone else"
        layout.addWidget(QLabel(f"{who} saved this expense while you were editing it. Nothing of yours is lost: "
                                "both versions are below. Save yours over theirs, or keep theirs."))
        fields = [f for f in FIELD_NAMES if f in conflict.mine or f in conflict.theirs]
        self.table = QTableWidget(len(fields), 3, self)
        self.table.setHorizontalHeaderLabels(["Field", "Yours", f"Saved by {who}"])
        for i, name in enumerate(fields):
            theirs = conflict.theirs.get(name)
            mine = conflict.mine.get(name, theirs)
            for column, value in enumerate((FIELD_NAMES[name], _text(mine), _text(theirs))):
                item = QTableWidgetItem(value)
                item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)  # copyable, not editable
                if column and _text(mine) != _text(theirs):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(i, column, item)
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(self)
        self.save_mine = buttons.addButton("Save &mine over theirs", QDialogButtonBox.ButtonRole.AcceptRole)
        self.keep_theirs = buttons.addButton("&Keep theirs", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
