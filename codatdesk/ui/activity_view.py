"""Webhook activity: every delivery, what we did with it, and why.

Stored deliveries come from the inbox table; rejected ones (bad signature or
credentials) are never stored, so the last ``MAX_REJECTED`` of them are kept in
memory from ``DeliveryRecorded`` events. Updates merge by delivery id (no reset).

Reading is incremental: each reload asks only for deliveries newer than the newest
one shown, plus those shown whose verdict can still change (``pending``,
``parked``), so a burst costs the rows it added, not the whole list. A hidden tab
reads nothing and catches up when shown.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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

from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_timestamp
from codatdesk.ui.reload_on_show import ReloadOnShow
from codatdesk.ui.status_style import is_dark_palette, status_icon, style_for

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI
    from codatdesk.events import DeliveryRecorded

MAX_STORED = 2000
MAX_REJECTED = 500
OPEN_VERDICTS = frozenset({"pending", "parked"})  # the applier may still change these
VERDICTS: dict[str, tuple[ExpenseStatus, str]] = {
    "applied": (ExpenseStatus.COMPLETE, "Changed the expense's status."),
    "pending": (ExpenseStatus.IN_PROGRESS, "Stored; being applied."),
    "parked": (ExpenseStatus.WAITING, "For a push whose key is not stored yet; applied once it is."),
    "duplicate": (ExpenseStatus.NOT_PUSHED, "Received before (Codat retried); nothing changed."),
    "stale": (ExpenseStatus.NOT_PUSHED, "Older than what is already known, or for a replaced push; nothing changed."),
    "ignored": (ExpenseStatus.NOT_PUSHED, "An event type codatdesk does not act on."),
    "unusable": (ExpenseStatus.OUTCOME_UNKNOWN, "Could not be read or matched to anything."),
    "dropped": (ExpenseStatus.NOT_PUSHED, "For a Codat company this app does not serve; counted, nothing changed."),
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
    inbox_id: int | None = None  # WebhookDelivery.id of a stored delivery
    expense_label: str = ""  # "Supplier · 2024-03-01 · 12.50 GBP": what an accountant recognises

    def expense_text(self) -> str:
        if not self.expense_id:
            return ""
        return self.expense_label or f"expense {self.expense_id} (deleted)"

    def search_text(self) -> str:
        return " ".join((self.delivery_id, self.event_type, self.verdict, self.detail,
                         str(self.expense_id or ""), self.expense_label,
                         format_timestamp(self.received_at))).casefold()


def expense_reference(supplier: str | None, date: dt.date | None, total: Decimal | None, currency: str | None) -> str:
    """The words an accountant finds an expense by: who, when, how much."""
    from codatdesk.ui.formatting import format_date, format_money

    money = format_money(total, currency or "") + (f" {currency}" if currency else "") if total is not None else ""
    return " · ".join(part for part in (supplier or "", format_date(date), money) if part)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def load_deliveries(core: CoreAPI, *, after_id: int = 0, inbox_ids: Collection[int] = (),
                    limit: int = MAX_STORED) -> list[ActivityRow]:
    """The newest ``limit`` stored deliveries with an inbox id above ``after_id``, plus those in ``inbox_ids``."""
    return [ActivityRow(d.delivery_id, _aware(d.received_at), d.event_type, d.verdict, d.verdict_detail,
                        d.expense_id, True, d.inbox_id,
                        expense_reference(d.supplier_name, d.expense_date, d.total, d.currency)
                        if d.expense_id and d.supplier_name is not None else "")
            for d in core.deliveries(after_id=after_id, inbox_ids=inbox_ids, limit=limit)]


def dropped_text(count: int) -> str:
    if not count:
        return ""
    return (f"{count} deliver{'y' if count == 1 else 'ies'} for other Codat companies dropped: this app does not "
            "serve them (the webhook registration asks Codat for this app's companies only).")


class ActivityModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[ActivityRow] = []
        self._index: dict[tuple[bool, str], int] = {}
        self._rejected: deque[ActivityRow] = deque(maxlen=MAX_REJECTED)
        self.dark = is_dark_palette()  # the palette at start: it may already be dark (no change event comes)

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

    def trim_stored(self, keep: int) -> list[int]:
        """Drop the oldest stored deliveries beyond ``keep``; return their inbox ids."""
        stored = sorted((r.inbox_id or 0, position) for position, r in enumerate(self.rows) if r.stored)
        if len(stored) <= keep:
            return []
        dropped = stored[:len(stored) - keep]
        for first, last in reversed(list(_runs(sorted(position for _id, position in dropped)))):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self.rows[first:last + 1]
            self.endRemoveRows()
        self._index = {(r.stored, r.delivery_id): i for i, r in enumerate(self.rows)}
        return [inbox_id for inbox_id, _position in dropped]

    def add_rejected(self, event: DeliveryRecorded) -> None:
        row = ActivityRow(event.delivery_id or f"rejected-{len(self._rejected)}", dt.datetime.now(dt.UTC),
                          event.event_type, "rejected", event.detail, event.expense_id, False)
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
                    row.expense_text(), row.delivery_id)[column]
        if role == SortRole:  # values Qt compares itself: no Python lessThan per comparison
            return (row.received_at.timestamp(), row.event_type, row.verdict, row.detail, row.expense_text(),
                    row.delivery_id)[column]
        if role == ExpenseIdRole:
            return row.expense_id
        look, meaning = VERDICTS.get(row.verdict, (ExpenseStatus.NOT_PUSHED, ""))
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 2:
                return f"{row.verdict}: {meaning}" + (f"\n{row.detail}" if row.detail else "")
            if column == 4 and row.expense_id:
                return f"{row.expense_text()}\nDouble-click to show this expense."
            return (None, row.event_type, None, row.detail, None, row.delivery_id)[column] or None
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
    def __init__(self, parent=None) -> None:
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


class ActivityView(ReloadOnShow, QWidget):
    reload_each_time_shown = True  # cheap (only what is new), and catches deliveries other processes stored

    expenseActivated = Signal(int)

    def __init__(self, core: CoreAPI | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core  # None until the window has its core
        self._newest_id = 0  # the newest inbox id read so far
        self._open_ids: set[int] = set()  # shown deliveries whose verdict may still change
        self.model = ActivityModel(self)
        self.proxy = ActivityFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setDynamicSortFilter(True)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search event, verdict, reason, supplier, date or delivery id…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search_text)
        search_label = QLabel("&Search:")
        search_label.setBuddy(self.search)
        self.verdict = QComboBox()
        self.verdict.addItem("All verdicts", None)
        for verdict, (look, meaning) in VERDICTS.items():
            self.verdict.addItem(status_icon(look, self.model.dark), verdict, verdict)
            self.verdict.setItemData(self.verdict.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.verdict.currentIndexChanged.connect(lambda _i: self.proxy.set_verdict(self.verdict.currentData()))
        verdict_label = QLabel("&Verdict:")
        verdict_label.setBuddy(self.verdict)
        self.count_label = QLabel()
        self.dropped_label = QLabel()  # events for companies we do not serve: counted here, not listed
        self.dropped_label.setWordWrap(True)
        self.dropped_label.setAccessibleName("Dropped deliveries")
        self.dropped_label.hide()
        top = QHBoxLayout()
        top.addWidget(search_label)
        top.addWidget(self.search, 1)
        top.addWidget(verdict_label)
        top.addWidget(self.verdict)
        top.addWidget(self.count_label)
        self.count_label.setMinimumWidth(self.count_label.fontMetrics().horizontalAdvance("2,000 of 2,000 deliveries"))

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
        self._size_columns()
        self.table.setAccessibleName("Webhook deliveries")
        self.table.activated.connect(self._activated)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.dropped_label)
        layout.addWidget(self.table, 1)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(200)
        self._reload_timer.timeout.connect(self.request_reload)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    def _size_columns(self) -> None:
        """Widths from the font, so Event and Why read whole at any font size; Why gets the most room."""
        metrics = self.table.fontMetrics()
        samples = ("2024-03-01 12:00:00", "directCosts.write.unsuccessful", "duplicate",
                   "Older than what is already known, or", "Supplier name · 2024-03-01 · 1,234.50 GBP")
        padding = metrics.horizontalAdvance("M") + 24  # margins, sort arrow and the verdict icon
        for column, sample in enumerate(samples):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + padding)

    def set_core(self, core: CoreAPI) -> None:
        self._core = core
        self.request_reload()

    def reload(self) -> None:
        """Read what is new since the last reload (everything, the first time)."""
        if self._core is None:
            self._reload_pending = True
            return
        if self.model.dark != is_dark_palette():
            self.restyle()
        rows = load_deliveries(self._core, after_id=self._newest_id, inbox_ids=self._open_ids)
        self._open_ids = set()  # rebuilt from what was read (an open id that was not is gone)
        for row in rows:
            assert row.inbox_id is not None
            self._newest_id = max(self._newest_id, row.inbox_id)
            if row.verdict in OPEN_VERDICTS:
                self._open_ids.add(row.inbox_id)
        self.model.merge(rows)
        self._open_ids.difference_update(self.model.trim_stored(MAX_STORED))
        self._update_count()
        text = dropped_text(self._core.dropped_delivery_count())
        self.dropped_label.setText(text)
        self.dropped_label.setVisible(bool(text))

    def on_delivery_recorded(self, event: DeliveryRecorded) -> None:
        if event.verdict == "rejected":  # never stored: this event is all there is of it
            self.model.add_rejected(event)
            self._update_count()
        elif not self.isVisible():
            self._reload_pending = True  # read when shown
        elif not self._reload_timer.isActive():
            self._reload_timer.start()  # bursts: one read per 200 ms

    def restyle(self) -> None:
        dark = is_dark_palette()
        self.model.set_dark(dark)
        for position in range(1, self.verdict.count()):
            look = VERDICTS[self.verdict.itemData(position)][0]
            self.verdict.setItemIcon(position, status_icon(look, dark))

    def _update_count(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} of {total}" if shown != total else f"{total} deliveries")

    def _activated(self, index: QModelIndex) -> None:
        expense_id = index.data(ExpenseIdRole)
        if expense_id:
            self.expenseActivated.emit(int(expense_id))


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7] -> [(1, 3), (7, 7)]: contiguous blocks of sorted positions."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and position == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs
