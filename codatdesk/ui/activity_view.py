"""Webhook activity: every delivery, what we did with it, and why.

Stored deliveries come from the inbox table; rejected ones (bad signature or
credentials) are never stored, so the last ``MAX_REJECTED`` of them are kept in
memory from ``DeliveryRecorded`` events. Updates merge by delivery id (no reset).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk.events import DeliveryRecorded
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import WebhookDelivery, utcnow
from codatdesk.ui.formatting import format_timestamp
from codatdesk.ui.status_style import is_dark_palette, status_icon, style_for
from codatdesk.store.db import read_session

MAX_STORED = 2000
MAX_REJECTED = 500
VERDICTS: dict[str, tuple[ExpenseStatus, str]] = {
    "applied": (ExpenseStatus.COMPLETE, "Changed the expense's status."),
    "pending": (ExpenseStatus.IN_PROGRESS, "Stored; being applied."),
    "parked": (ExpenseStatus.WAITING, "For a push whose key is not stored yet; applied once it is."),
    "duplicate": (ExpenseStatus.NOT_PUSHED, "Received before (Codat retried); nothing changed."),
    "stale": (ExpenseStatus.NOT_PUSHED, "Older than what is already known, or for a replaced push; nothing changed."),
    "ignored": (ExpenseStatus.NOT_PUSHED, "An event type codatdesk does not act on."),
    "unusable": (ExpenseStatus.TIMED_OUT, "Could not be read or matched to anything."),
    "rejected": (ExpenseStatus.FAILED, "Refused before storing (signature or credentials); Codat will retry it."),
}
HEADERS = ("Received", "Event", "Verdict", "Why", "Expense", "Delivery id")
SortRole = Qt.ItemDataRole.UserRole + 1
ExpenseIdRole = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True, slots=True)
class ActivityRow:
    delivery_id: str
    received_at: dt.datetime
    event_type: str
    verdict: str
    detail: str
    expense_id: int | None
    stored: bool

    def search_text(self) -> str:
        return " ".join((self.delivery_id, self.event_type, self.verdict, self.detail,
                         str(self.expense_id or ""), format_timestamp(self.received_at))).casefold()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def load_deliveries(engine: Engine, limit: int = MAX_STORED) -> list[ActivityRow]:
    with read_session(engine) as session:
        records = session.exec(select(
            WebhookDelivery.delivery_id, WebhookDelivery.received_at, WebhookDelivery.event_type,
            WebhookDelivery.verdict, WebhookDelivery.verdict_detail, WebhookDelivery.expense_id,
        ).order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    return [ActivityRow(d, _aware(at), t, v, detail, e, True) for d, at, t, v, detail, e in records]


class ActivityModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.rows: list[ActivityRow] = []
        self._index: dict[tuple[bool, str], int] = {}
        self._rejected: deque[ActivityRow] = deque(maxlen=MAX_REJECTED)
        self.dark = False

    def merge(self, rows: list[ActivityRow]) -> None:
        """Insert unknown deliveries, update changed ones; never reset."""
        added = []
        for row in rows:
            key = (row.stored, row.delivery_id)
            position = self._index.get(key)
            if position is None:
                added.append(row)
            elif self.rows[position] != row:
                self.rows[position] = row
                self.dataChanged.emit(self.index(position, 0), self.index(position, len(HEADERS) - 1))
        if added:
            start = len(self.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
            for offset, row in enumerate(added):
                self.rows.append(row)
                self._index[(row.stored, row.delivery_id)] = start + offset
            self.endInsertRows()

    def add_rejected(self, event: DeliveryRecorded) -> None:
        row = ActivityRow(event.delivery_id or f"rejected-{len(self._rejected)}", utcnow(), event.event_type,
                          "rejected", event.detail, event.expense_id, False)
        if len(self._rejected) == self._rejected.maxlen:
            self._drop(self._rejected[0])
        self._rejected.append(row)
        self.merge([row])

    def _drop(self, row: ActivityRow) -> None:
        position = self._index.pop((row.stored, row.delivery_id), None)
        if position is None:
            return
        self.beginRemoveRows(QModelIndex(), position, position)
        del self.rows[position]
        self.endRemoveRows()
        self._index = {(r.stored, r.delivery_id): i for i, r in enumerate(self.rows)}

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        if self.rows:
            self.dataChanged.emit(self.index(0, 2), self.index(len(self.rows) - 1, 2))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (format_timestamp(row.received_at), row.event_type or "—", row.verdict, row.detail,
                    f"#{row.expense_id}" if row.expense_id else "", row.delivery_id)[column]
        if role == SortRole:
            return (row.received_at, row.event_type, row.verdict, row.detail, row.expense_id or 0,
                    row.delivery_id)[column]
        if role == ExpenseIdRole:
            return row.expense_id
        look, meaning = VERDICTS.get(row.verdict, (ExpenseStatus.NOT_PUSHED, ""))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.verdict}: {meaning}" + (f"\n{row.detail}" if row.detail else "") if column == 2 else None
        if column == 2:
            tones = style_for(look).tones(self.dark)
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(look, self.dark)
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(tones.background))
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(tones.text))
        return None


class ActivityFilter(QSortFilterProxyModel):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self._terms: tuple[str, ...] = ()
        self._verdict: str | None = None
        self.setSortRole(SortRole)

    def set_search_text(self, text: str) -> None:
        self.beginFilterChange()
        self._terms = tuple(text.casefold().split())
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_verdict(self, verdict: str | None) -> None:
        self.beginFilterChange()
        self._verdict = verdict
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ActivityModel)
        row = model.rows[source_row]
        if self._verdict and row.verdict != self._verdict:
            return False
        haystack = row.search_text()
        return all(term in haystack for term in self._terms)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        a, b = left.data(SortRole), right.data(SortRole)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class ActivityView(QWidget):
    expenseActivated = Signal(int)

    def __init__(self, read_engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._engine = read_engine
        self.model = ActivityModel(self)
        self.proxy = ActivityFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setDynamicSortFilter(True)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search event, verdict, reason, expense or delivery id…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search_text)
        search_label = QLabel("&Search:")
        search_label.setBuddy(self.search)
        self.verdict = QComboBox()
        self.verdict.addItem("All verdicts", None)
        for verdict, (look, meaning) in VERDICTS.items():
            self.verdict.addItem(status_icon(look, False), verdict, verdict)
            self.verdict.setItemData(self.verdict.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.verdict.currentIndexChanged.connect(lambda _i: self.proxy.set_verdict(self.verdict.currentData()))
        verdict_label = QLabel("&Verdict:")
        verdict_label.setBuddy(self.verdict)
        self.count_label = QLabel()
        top = QHBoxLayout()
        top.addWidget(search_label)
        top.addWidget(self.search, 1)
        top.addWidget(verdict_label)
        top.addWidget(self.verdict)
        top.addWidget(self.count_label)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 200, 110, 360, 70)):
            self.table.setColumnWidth(column, width)
        self.table.setAccessibleName("Webhook deliveries")
        self.table.activated.connect(self._activated)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(200)
        self._reload_timer.timeout.connect(self.reload)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    def reload(self) -> None:
        self.model.merge(load_deliveries(self._engine))
        self._update_count()

    def on_delivery_recorded(self, event: DeliveryRecorded) -> None:
        if event.verdict == "rejected":
            self.model.add_rejected(event)
            self._update_count()
        elif not self._reload_timer.isActive():
            self._reload_timer.start()  # bursts: one read per 200 ms

    def restyle(self) -> None:
        self.model.set_dark(is_dark_palette())

    def _update_count(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} of {total}" if shown != total else f"{total} deliveries")

    def _activated(self, index: QModelIndex) -> None:
        expense_id = index.data(ExpenseIdRole)
        if expense_id:
            self.expenseActivated.emit(int(expense_id))
