"""Mapping: how the codes and names in your expenses match Codat's accounts, suppliers and tax rates.

Each value is explained by ``codatdesk.engine.reference.Resolver.explain`` (the push's own
rules: saved mapping, then code, then name, then Codat id; active records only) and says *how*
it matched, so an accountant can fix the ones that would be held back before pushing.
Here too the company's choice whether codatdesk may create the suppliers the ledger lacks
(``Company.create_suppliers``; ``engine.suppliers``), since it decides what an unknown supplier does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from codatdesk.core_api import CREATED, MATCHED, NEEDS_YOU, NO_TAX_LABEL, OPTIONAL, MappingRow
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_timestamp
from codatdesk.ui.reload_on_show import ReloadOnShow
from codatdesk.ui.status_style import is_dark_palette, status_icon, style_for
from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI

KINDS = {  # mapping kind -> (label, reference data types searched, match by code)
    "account": ("Account", ("accounts",), True),
    "bankAccount": ("Paid from", ("bankAccounts", "accounts"), True),
    "supplier": ("Supplier", ("suppliers",), False),
    "taxRate": ("Tax rate", ("taxRates",), True),
}
DATA_TYPE_LABELS = {"accounts": "accounts", "bankAccounts": "bank accounts", "suppliers": "suppliers",
                    "taxRates": "tax rates", "trackingCategories": "tracking categories"}

# outcome (core_api: matched, created, optional, needs you) -> how it looks (re-using the status styles)
UNCHECKED = "not checked"  # Codat's lists are missing or being read again: nothing is known to fail yet
# Red for what will not be pushed (an unknown supplier, tax code or payment account blocks the push).
_OUTCOME_STATUS = {MATCHED: ExpenseStatus.COMPLETE, CREATED: ExpenseStatus.WAITING,
                   OPTIONAL: ExpenseStatus.NOT_PUSHED, NEEDS_YOU: ExpenseStatus.FAILED,
                   UNCHECKED: ExpenseStatus.NOT_PUSHED}
DEFAULT_MAX_AGE = dt.timedelta(hours=24)  # the codat.reference_max_age_hours default


REREAD_TEXT = "Re-&read from Codat"
CREATE_SUPPLIERS_TEXT = "Create suppliers the ledger does not have yet"
CREATE_SUPPLIERS_HINT = ("When an expense names a supplier the accounting software does not know, codatdesk adds "
                         "the supplier there first, then sends the expense. Off: such an expense is not sent until "
                         "you map its supplier.")


def refresh_summary(counts: dict[str, int]) -> str:
    """``{"accounts": 212, ...}`` -> "212 accounts, 48 suppliers, 9 tax rates, 3 bank accounts read from Codat."""
    if not counts:
        return "Codat's lists were read again."
    return ", ".join(f"{n} {DATA_TYPE_LABELS.get(k, k)}" for k, n in counts.items()) + " read from Codat."


def age_text(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """How long ago, in the words a person uses: "just now", "5 minutes ago", "3 hours ago", "2 days ago"."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def reference_max_age(core: object) -> dt.timedelta:
    """The ``codat.reference_max_age_hours`` setting of the window's core (the default before there is one)."""
    settings = getattr(core, "settings", None)
    hours = settings.get("codat.reference_max_age_hours") if settings is not None else None
    return dt.timedelta(hours=hours) if hours else DEFAULT_MAX_AGE


def lists_are_stale(fetched: dt.datetime | None, max_age: dt.timedelta, now: dt.datetime | None = None) -> bool:
    if fetched is None:
        return True
    fetched = fetched if fetched.tzinfo else fetched.replace(tzinfo=dt.UTC)
    return (now or dt.datetime.now(dt.UTC)) - fetched > max_age


def unchecked(row: MappingRow) -> MappingRow:
    """A value that would need you (or be created), said neutrally until Codat's current lists say so."""
    if row.outcome not in (NEEDS_YOU, CREATED):
        return row
    return replace(row, outcome=UNCHECKED, how="not checked yet: waiting for Codat's lists")


class MappingModel(QAbstractTableModel):
    HEADERS = ("Kind", "Your value", "Used by", "Codat record", "How it matches")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[MappingRow] = []
        self.dark = False

    def set_rows(self, rows: list[MappingRow]) -> None:
        # A small list replaced as a whole after an explicit refresh: a reset is right here.
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        if self.rows:
            self.dataChanged.emit(self.index(0, 4), self.index(len(self.rows) - 1, 4))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (KINDS[row.kind][0], row.local_value + (f" · {row.local_name}" if row.local_name else ""),
                      str(row.used_by), row.codat_label or "—", row.how)
            return values[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row.used_by if column == 2 else None
        if column == 4:
            status = _OUTCOME_STATUS[row.outcome]
            tones = style_for(status).tones(self.dark)
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(status, self.dark)
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(tones.background))
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(tones.text))
        return None


class MappingView(ReloadOnShow, QWidget):
    """Shows the matches for one company; Refresh fetches Codat's lists in a worker.

    Matching reads every expense of the company (~0.4 s for 100,000), so the view
    reads only while it is shown, again each time it is shown.
    """

    reload_each_time_shown = True

    statusMessage = Signal(str)

    def __init__(self, core: CoreAPI | None, *, refresh: Callable[[str], None],
                 max_age: Callable[[], dt.timedelta] = lambda: DEFAULT_MAX_AGE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core  # None until the window has its core: reads, mappings and the supplier choice
        self._max_age = max_age  # Codat's lists older than this are read again when the view is shown
        self._busy = False
        self._auto_read_at: dict[str, dt.datetime] = {}  # company -> when the view last read its lists by itself
        self._refresh = refresh  # starts core.refresh_reference_data in a worker; calls reload() after
        self._company_id: str | None = None
        self._list_counts: dict[str, int] = {}  # Codat data type -> records stored

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton(REREAD_TEXT)
        self.refresh_button.setToolTip("Read the company's accounts, bank accounts, suppliers and tax rates from "
                                       "Codat again (after a change in the accounting software)")
        self.refresh_button.clicked.connect(self.request_refresh)
        # Companies on the Expenses route only: their default payment account, supplier and customer at Codat.
        self.expenses_config_button = QPushButton("E&xpenses configuration…")
        self.expenses_config_button.setToolTip("Choose the defaults Codat's Expenses uses for this company")
        self.expenses_config_button.clicked.connect(self.open_expenses_config)
        self.expenses_config_button.hide()
        self.progress = QProgressBar()  # busy (no steps known) while Codat's lists are read
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(120)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Reading from Codat")
        self.progress.hide()
        self.refresh_result = QLabel()  # "212 accounts, 48 suppliers, 9 tax rates read", or why not
        self.refresh_result.setWordWrap(True)
        self.refresh_result.setObjectName("refreshResult")
        self.refresh_result.hide()
        self._focus: tuple[str, str] | None = None  # (kind, value) to select after the next reload
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter values…")
        self.search.setClearButtonEnabled(True)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.search)
        top.addWidget(self.progress)
        top.addWidget(self.refresh_button)
        top.addWidget(self.expenses_config_button)

        self.model = MappingModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # model order until clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setAccessibleName("Mappings")
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.editor_label = QLabel("&Map to:")
        self.choice = QComboBox()
        self.choice.setMinimumContentsLength(30)
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMaxVisibleItems(15)
        self.choice.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name never widens it off screen
        # Type to search: any part of the code or name, among the records offered.
        self.choice.setEditable(True)
        self.choice.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.choice.lineEdit().setPlaceholderText("Type part of a code or name…")
        completer = QCompleter(self.choice.model(), self.choice)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.choice.setCompleter(completer)
        self.editor_label.setBuddy(self.choice)
        self.save_button = QPushButton("&Save mapping")
        self.save_button.clicked.connect(self._save)
        self.clear_button = QPushButton("Clear &mapping")
        self.clear_button.clicked.connect(self._clear)
        # Per company; written off the GUI thread, then the supplier rows are explained again.
        self.create_suppliers = QCheckBox(CREATE_SUPPLIERS_TEXT)
        self.create_suppliers.setToolTip(CREATE_SUPPLIERS_HINT)
        self.create_suppliers.setEnabled(False)
        self.create_suppliers.toggled.connect(self._on_create_suppliers_toggled)
        self.create_suppliers_hint = QLabel(CREATE_SUPPLIERS_HINT)
        self.create_suppliers_hint.setWordWrap(True)
        self.create_suppliers_hint.setBuddy(self.create_suppliers)
        suppliers_box = QVBoxLayout()
        suppliers_box.setSpacing(0)
        suppliers_box.addWidget(self.create_suppliers)
        suppliers_box.addWidget(self.create_suppliers_hint)
        suppliers_box.setContentsMargins(0, 0, 0, 4)
        # The note lines up with the checkbox's text, so it reads as that option's explanation.
        indicator = self.style().pixelMetric(self.style().PixelMetric.PM_IndicatorWidth)
        spacing = self.style().pixelMetric(self.style().PixelMetric.PM_CheckBoxLabelSpacing)
        self.create_suppliers_hint.setContentsMargins(indicator + spacing, 0, 0, 0)
        editor = QHBoxLayout()
        editor.addWidget(self.editor_label)
        editor.addWidget(self.choice, 1)
        editor.addWidget(self.save_button)
        editor.addWidget(self.clear_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.refresh_result)
        layout.addLayout(suppliers_box)
        layout.addWidget(self.table, 1)
        layout.addLayout(editor)
        self._on_current_changed()

    @property
    def company_id(self) -> str | None:
        return self._company_id

    def set_company(self, company_id: str | None) -> None:
        self._company_id = company_id
        self.refresh_button.setEnabled(company_id is not None)
        self.request_reload()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.refresh_button.setEnabled(not busy and self._company_id is not None)
        self.refresh_button.setText("Reading from Codat…" if busy else REREAD_TEXT)
        self.progress.setVisible(busy)
        if busy:
            self._show_result("Reading the company's lists from Codat…", None)

    @property
    def reading(self) -> bool:
        """True while Codat's lists are being read (asked for here or by the view itself)."""
        return self._busy

    def request_refresh(self) -> None:
        self._start_refresh()

    def _start_refresh(self) -> None:
        if self._company_id and not self._busy:
            self.set_busy(True)
            self._refresh(self._company_id)

    def refresh_finished(self, counts: dict[str, int]) -> None:
        """Codat's lists were read: say how many of each, and show the matches they give."""
        self.set_busy(False)
        text = refresh_summary(counts)
        self._show_result(text, True)
        self.statusMessage.emit(text)
        self.request_reload()

    def refresh_failed(self, error: BaseException) -> None:
        from codatdesk.ui.messages import user_message

        self.set_busy(False)
        title, text = user_message(error)
        self._show_result(f"Could not read from Codat: {title}. {text} The lists read before are kept.", False)
        self.statusMessage.emit(f"Could not read from Codat: {text}")

    def _show_result(self, text: str, ok: bool | None) -> None:
        status = {True: ExpenseStatus.COMPLETE, False: ExpenseStatus.FAILED}.get(ok, ExpenseStatus.NOT_PUSHED)
        tones = style_for(status).tones(is_dark_palette())
        self.refresh_result.setStyleSheet(f"#refreshResult {{ color: {tones.text}; background: {tones.background}; "
                                          "padding: 4px; border-radius: 3px; }")
        self.refresh_result.setText(text)
        self.refresh_result.show()

    def focus_value(self, kind: str, value: str) -> None:
        """Select the row of ``value`` (a blocked expense's fix), now or once the view has reloaded."""
        self._focus = (kind, value if value else NO_TAX_LABEL)
        self.search.clear()
        if not self._reload_pending and self.model.rows:
            self._apply_focus()

    def _apply_focus(self) -> None:
        if self._focus is None:
            return
        kind, value = self._focus
        for position, candidate in enumerate(self.model.rows):
            if candidate.kind == kind and candidate.local_value.casefold() == value.casefold():
                self._focus = None
                index = self.proxy.mapFromSource(self.model.index(position, 0))
                self.table.selectionModel().setCurrentIndex(
                    index, self.table.selectionModel().SelectionFlag.ClearAndSelect
                    | self.table.selectionModel().SelectionFlag.Rows)
                self.table.scrollTo(index)
                self.choice.setFocus()
                return

    def _expenses_company(self):
        """The chosen company when it is on the Expenses route (its CompanyChoice), else None."""
        from codatdesk.routes import EXPENSES

        companies = getattr(self._core, "companies_to_show", None)  # narrow test doubles lack it
        if companies is None or self._company_id is None:
            return None
        return next((c for c in companies()
                     if c.id == self._company_id and c.push_route == EXPENSES), None)

    def open_expenses_config(self) -> None:
        from codatdesk.ui.dialogs.expenses_config_dialog import ExpensesConfigDialog

        company = self._expenses_company()
        if company is None:
            return
        dialog = ExpensesConfigDialog(self._core, company.id, company.name, parent=self)
        dialog.saved.connect(lambda _config: self.statusMessage.emit("Expenses configuration saved at Codat"))
        dialog.open()

    def set_core(self, core: CoreAPI) -> None:
        self._core = core
        self.request_reload()

    def reload(self) -> None:
        if self._core is None:
            self._reload_pending = True
            return
        self.model.set_dark(is_dark_palette())
        if self._company_id is None:
            self._show_supplier_creation(None)
            self.model.set_rows([])
            self._list_counts = {}
            self.summary.setText("Choose a company to see how its codes match Codat.")
            self.refresh_button.setEnabled(False)
            return
        self.refresh_button.setEnabled(True)
        self.expenses_config_button.setVisible(self._expenses_company() is not None)
        overview = self._core.mapping_overview(self._company_id)
        self._show_supplier_creation(overview.create_suppliers)
        rows, self._list_counts, fetched = list(overview.rows), overview.list_counts, overview.lists_read_at
        self._read_if_stale(self._company_id, fetched)
        if fetched is None or self._busy:  # nothing, or out of date and being read: nothing is known to fail yet
            rows = [unchecked(row) for row in rows]
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        counts = ", ".join(f"{self._list_counts.get(t, 0)} {label}" for t, label in DATA_TYPE_LABELS.items())
        needs = sum(r.outcome == NEEDS_YOU for r in rows)
        optional = sum(r.outcome == OPTIONAL for r in rows)
        if self._busy:
            text = "Reading Codat's lists for this company; each value is checked once they are read."
        elif fetched is None:
            text = ("Codat's lists have not been read for this company yet, so no value is checked. "
                    "Press Re-read from Codat.")
        else:
            text = f"Codat's lists: {counts}, read {age_text(fetched)}."
            self.summary.setToolTip(f"Read from Codat at {format_timestamp(fetched)}")
        if needs:
            text += f" <b>{needs} value(s) keep expenses from being sent until mapped or edited.</b>"
        if optional:
            text += f" {optional} supplier(s)/tax code(s) are not linked."
        self.summary.setText(text)
        self._on_current_changed()
        self._apply_focus()

    def _read_if_stale(self, company_id: str, fetched: dt.datetime | None) -> None:
        """Read Codat's lists when they are missing or older than the set age; once per age, so a failure
        does not retry on every show."""
        now = dt.datetime.now(dt.UTC)
        max_age = self._max_age()
        tried = self._auto_read_at.get(company_id)
        if self._busy or not lists_are_stale(fetched, max_age, now) or (tried and now - tried < max_age):
            return
        self._auto_read_at[company_id] = now
        self._start_refresh()

    def _show_supplier_creation(self, allowed: bool | None) -> None:
        """The checkbox shows the stored choice (None: no company), without writing it back."""
        self.create_suppliers.blockSignals(True)
        self.create_suppliers.setChecked(bool(allowed))
        self.create_suppliers.blockSignals(False)
        self.create_suppliers.setEnabled(allowed is not None)

    def _on_create_suppliers_toggled(self, allowed: bool) -> None:
        if self._company_id is not None:
            self.allow_supplier_creation(self._company_id, allowed)

    def allow_supplier_creation(self, company_id: str, allowed: bool = True,
                                then: Callable[[], None] | None = None) -> None:
        """Store the company's choice in a worker; then re-explain the rows and call ``then``."""
        core = self._core
        if core is None:
            return
        self.create_suppliers.setEnabled(False)  # until stored: one write at a time

        def done(_result: object) -> None:
            self.statusMessage.emit(
                "codatdesk now creates the suppliers the ledger does not have yet, before their expenses."
                if allowed else "codatdesk no longer creates suppliers: an unknown supplier waits until you map it.")
            self.request_reload()
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            from codatdesk.ui.messages import user_message

            title, text = user_message(error)
            self.statusMessage.emit(f"Could not save whether to create suppliers: {title}. {text}")
            self.request_reload()  # shows the stored choice again

        run_in_background(lambda: core.set_supplier_creation(company_id, allowed), done, failed, owner=self)

    def restyle(self) -> None:
        self.model.set_dark(is_dark_palette())

    def selected_row(self) -> MappingRow | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return self.model.rows[self.proxy.mapToSource(index).row()]

    def _on_current_changed(self, *_args: object) -> None:
        row = self.selected_row()
        self.choice.clear()
        enabled = row is not None
        for widget in (self.choice, self.save_button, self.clear_button):
            widget.setEnabled(enabled)
        if row is None:
            return
        self.choice.addItem("", None)  # nothing chosen: the placeholder says to type
        for record in self._offered(row.kind, row.currency):  # only what a push may use: active (bank) records
            self.choice.addItem(f"{record.label}  [{DATA_TYPE_LABELS[record.data_type]}]", record.codat_id)
        if row.codat_id:
            position = self.choice.findData(row.codat_id)
            self.choice.setCurrentIndex(max(0, position))
        self.clear_button.setEnabled(row.how.startswith("by saved mapping"))

    def _offered(self, kind: str, currency: str = "") -> list:
        if self._core is None or self._company_id is None:
            return []
        return self._core.mapping_candidates(self._company_id, kind, currency or None)

    def _save(self) -> None:
        row = self.selected_row()
        position = self.choice.currentIndex()
        if self.choice.itemText(position) != self.choice.currentText():  # typed: it counts only if it names a record
            position = self.choice.findText(self.choice.currentText())
        codat_id = self.choice.itemData(position) if position >= 0 else None
        if row is None or self._company_id is None or not codat_id:
            self.statusMessage.emit("Choose one of the Codat records listed under Map to, then save.")
            return
        message = f"{KINDS[row.kind][0]} {row.local_value} now maps to {self.choice.currentText()}"
        self._write(row, codat_id, message)

    def _clear(self) -> None:
        row = self.selected_row()
        if row is None or self._company_id is None:
            return
        self._write(row, None, f"Mapping of {KINDS[row.kind][0].lower()} {row.local_value} cleared")

    def _write(self, row: MappingRow, codat_id: str | None, message: str) -> None:
        company_id = self._company_id
        assert company_id is not None

        def done(_result: object) -> None:
            self.statusMessage.emit(message)
            self._reselect_after_reload(row)

        def failed(error: BaseException) -> None:
            self.statusMessage.emit(f"Could not save the mapping: {error}")

        core = self._core
        assert core is not None
        local_value = "" if row.local_value == NO_TAX_LABEL else row.local_value
        run_in_background(lambda: core.set_mapping(company_id, row.kind, local_value, codat_id), done, failed,
                          owner=self)

    def _reselect_after_reload(self, row: MappingRow) -> None:
        self.reload()
        for position, candidate in enumerate(self.model.rows):
            if (candidate.kind, candidate.local_value) == (row.kind, row.local_value):
                index = self.proxy.mapFromSource(self.model.index(position, 0))
                self.table.selectionModel().setCurrentIndex(
                    index, self.table.selectionModel().SelectionFlag.ClearAndSelect
                    | self.table.selectionModel().SelectionFlag.Rows)
                break
