"""What a controller needs of the window it works in (``MainWindow`` is one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox, QStatusBar, QWidget

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI
    from codatdesk.ui.expense_model import (
        ExpenseFilterProxy,
        ExpenseRow,
        ExpenseTableModel,
    )


class Host(Protocol):
    core: CoreAPI | None
    model: ExpenseTableModel
    proxy: ExpenseFilterProxy
    company_combo: QComboBox

    @property
    def company_id(self) -> str | None: ...

    def statusBar(self) -> QStatusBar: ...

    def selected_ids(self) -> list[int]: ...

    def selected_rows(self) -> list[ExpenseRow]: ...

    def select_expense(self, expense_id: int) -> bool: ...

    def reload_companies(self, select_id: str | None = None) -> None: ...

    def background_failed(self, error: BaseException) -> None: ...

    def update_actions(self) -> None: ...

    def apply_fix(self, expense_id: int, fix: Any, recheck: list[int] | None = None) -> None: ...


def confirm(parent: QWidget, icon: QMessageBox.Icon, title: str, text: str, action: str,
            on_confirm: Callable[[], object]) -> QMessageBox:
    """A window-modal question whose default is Cancel; ``on_confirm`` runs only for ``action``."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Cancel, parent)
    confirm_button = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: button is confirm_button and on_confirm())
    box.open()
    return box
