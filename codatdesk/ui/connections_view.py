"""Connections: each company's accounting connection, its status, and a way to reconnect.

Also the banner logic: a connection that is not Linked stops every push, so the
main window shows it above the table until it is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from codatdesk.core_api import ConnectionInfo
from codatdesk.machines import connection_is_down
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_timestamp
from codatdesk.ui.reload_on_show import ReloadOnShow
from codatdesk.ui.status_style import is_dark_palette, status_icon, style_for

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI

__all__ = ["ConnectionBanner", "ConnectionInfo", "ConnectionsView", "connection_problem", "open_link"]

# Codat connection status -> the status style that says the same thing.
CONNECTION_LOOK = {"Linked": ExpenseStatus.COMPLETE, "PendingAuth": ExpenseStatus.WAITING,
                   "Unlinked": ExpenseStatus.FAILED, "Deauthorized": ExpenseStatus.FAILED,
                   "Deleted": ExpenseStatus.FAILED}
EXPLAIN = {
    "Linked": "Working.",
    "PendingAuth": "Not authorised yet: finish linking the accounting software.",
    "Unlinked": "Disconnected in Codat: pushes are stopped until it is reconnected.",
    "Deauthorized": "The accounting software withdrew access: pushes are stopped until you reconnect.",
    "Deleted": "Codat no longer has this connection: pushes are stopped until the company is linked again.",
}


def connection_problem(infos: list[ConnectionInfo], company_id: str | None) -> ConnectionInfo | None:
    """The chosen connection of ``company_id`` if it is known and not Linked (``infos``: ``core.connections()``)."""
    if not company_id:
        return None
    for info in infos:
        if info.company_id == company_id and info.chosen and connection_is_down(info.status):
            return info
    return None


def open_link(url: str | None) -> bool:
    return bool(url) and QDesktopServices.openUrl(QUrl(url))


class ConnectionBanner(QFrame):
    """The impossible-to-miss strip above the table while the connection is down."""

    reconnectRequested = Signal(object)  # ConnectionInfo
    checkRequested = Signal(str)  # company id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionBanner")
        self.info: ConnectionInfo | None = None
        self.icon = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reconnect_button = QPushButton("Re&connect…")
        self.reconnect_button.clicked.connect(lambda: self.reconnectRequested.emit(self.info))
        self.check_button = QPushButton("Check &again")
        self.check_button.clicked.connect(lambda: self.info and self.checkRequested.emit(self.info.company_id))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.check_button)
        layout.addWidget(self.reconnect_button)
        self.setAccessibleName("Connection problem")
        self.hide()

    def show_problem(self, info: ConnectionInfo | None) -> None:
        self.info = info
        if info is None:
            self.hide()
            return
        platform = f" ({info.platform})" if info.platform else ""
        text = (f"<b>The accounting connection of {info.company_name}{platform} is {info.status}.</b> "
                f"{EXPLAIN.get(info.status, '')}")
        if info.errors:
            text += f"<br>Codat says: {info.errors}"
        self.message.setText(text)
        self.setAccessibleDescription(self.message.text())
        self.restyle()
        self.show()

    def restyle(self) -> None:
        dark = is_dark_palette()
        tones = style_for(ExpenseStatus.FAILED).tones(dark)
        self.setStyleSheet(f"#connectionBanner {{ background: {tones.background}; border: 2px solid {tones.icon}; "
                           f"border-radius: 4px; }} #connectionBanner QLabel {{ color: {tones.text}; }}")
        self.icon.setPixmap(status_icon(ExpenseStatus.FAILED, dark).pixmap(24, 24))


class ConnectionsView(ReloadOnShow, QWidget):
    reload_each_time_shown = True  # Codat may have changed a connection while another tab was shown

    reconnectRequested = Signal(object)  # ConnectionInfo
    checkRequested = Signal(str)  # company id

    HEADERS = ("Company", "Connection", "Status", "Last checked", "What it means")  # names; ids in tooltips

    def __init__(self, core: CoreAPI | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core  # None until the window has its core
        self.infos: list[ConnectionInfo] = []
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setAccessibleName("Accounting connections")
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemActivated.connect(lambda _item: self._reconnect())

        self.reconnect_button = QPushButton("Re&connect…")
        self.reconnect_button.setToolTip("Open Codat's link page in your browser to authorise the connection again")
        self.reconnect_button.clicked.connect(self._reconnect)
        self.check_button = QPushButton("Check &now")
        self.check_button.setToolTip("Ask Codat for the connection's status now")
        self.check_button.clicked.connect(self._check)
        self.hint = QLabel("A connection must be <b>Linked</b> for pushes to work. Reconnect opens Codat's link "
                           "page in your browser; come back here and press Check now.")
        self.hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.reconnect_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_core(self, core: CoreAPI) -> None:
        self._core = core
        self.request_reload()

    def reload(self) -> None:
        if self._core is None:
            self._reload_pending = True
            return
        selected = self.selected()
        self.infos = self._core.connections()
        dark = is_dark_palette()
        self.table.setRowCount(len(self.infos))
        for row, info in enumerate(self.infos):
            look = CONNECTION_LOOK.get(info.status, ExpenseStatus.NOT_PUSHED)
            tones = style_for(look).tones(dark)
            name = info.platform or info.connection_id or "—"  # the ledger's name; the id is in the tooltip
            values = (info.company_name, name + (" (used for pushes)" if info.chosen else ""), info.status,
                      format_timestamp(info.checked_at) or "never",
                      EXPLAIN.get(info.status, "") + (f" Codat says: {info.errors}" if info.errors else ""))
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip({0: f"{value} ({info.company_id})",
                                 1: f"Connection id {info.connection_id or 'not known yet'}"}.get(column, value))
                if column == self.HEADERS.index("Status"):
                    item.setIcon(status_icon(look, dark))
                    item.setBackground(QBrush(QColor(tones.background)))
                    item.setForeground(QBrush(QColor(tones.text)))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        if selected is not None:
            for row, info in enumerate(self.infos):
                if (info.company_id, info.connection_id) == (selected.company_id, selected.connection_id):
                    self.table.selectRow(row)
        self._update_buttons()

    def selected(self) -> ConnectionInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.infos):
            return None
        return self.infos[rows[0].row()]

    def _update_buttons(self) -> None:
        info = self.selected()
        self.reconnect_button.setEnabled(info is not None and bool(info.link_url) and not info.ok)
        self.check_button.setEnabled(info is not None)

    def _reconnect(self) -> None:
        info = self.selected()
        if info is not None:
            self.reconnectRequested.emit(info)

    def _check(self) -> None:
        info = self.selected()
        if info is not None:
            self.checkRequested.emit(info.company_id)
