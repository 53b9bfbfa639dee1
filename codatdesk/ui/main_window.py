"""The main window: the expenses table, its details, and the push workflow.

Everything blocking (Codat HTTP, DB writes, imports) runs through
``run_in_background``; core events arrive through the one ``CoreBridge``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from codatdesk import paths
from codatdesk.amounts import NumberFormat
from codatdesk.routes import label as route_label
from codatdesk.states import ExpenseStatus
from codatdesk.ui.activity_view import ActivityView
from codatdesk.ui.bridge import CoreBridge, RowRefreshCoalescer
from codatdesk.ui.connections_view import (
    ConnectionBanner,
    ConnectionInfo,
    ConnectionsView,
    connection_problem,
    open_link,
)
from codatdesk.ui.controllers.columns import ColumnSizer
from codatdesk.ui.controllers.edit import EditController
from codatdesk.ui.controllers.files import FilesController
from codatdesk.ui.controllers.push import PushController
from codatdesk.ui.details_pane import DetailsPane
from codatdesk.ui.expense_model import Column, ExpenseFilterProxy, ExpenseTableModel, IdRole
from codatdesk.ui.icons import BRAND, action_icon, app_icon
from codatdesk.ui.mapping_view import MappingView, reference_max_age
from codatdesk.ui.receipts_panel import ReceiptDropFilter
from codatdesk.ui.row_reads import RowReads
from codatdesk.ui.status_bar import HealthPanel, PushProgressArea
from codatdesk.ui.status_delegate import StatusChipDelegate
from codatdesk.ui.status_style import is_dark_palette, status_icon
from codatdesk.ui.summary_bar import PushSummaryBar
from codatdesk.ui.totals_line import TotalsLine
from codatdesk.ui.ui_state import UiState
from codatdesk.ui.workers import run_in_background

if TYPE_CHECKING:
    from codatdesk.core_api import CoreAPI
    from codatdesk.events import ConnectionChanged, ExpensesImported, HealthEvent, Notice

# The store (SQLAlchemy), the core and the dialogs are imported where they are first
# needed, so this module, and with it the window, is ready before they are.

log = logging.getLogger(__name__)

NEEDS_ATTENTION = "attention"
TAB_EXPENSES, TAB_MAPPING, TAB_CONNECTIONS, TAB_ACTIVITY = range(4)
EMPTY_TABLE_TEXT = ("No expenses yet.\n\nImport a CSV or Excel file (File › Import expenses…, Ctrl+I),\n"
                    "or type one in (Expenses › Add expense…, Ctrl+N).")
NOTHING_MATCHES_TEXT = "No expense matches the filters.\nClear the search or choose \u201cAll statuses\u201d."




class MainWindow(QMainWindow):
    """The window. ``core`` may come later (``attach_core``): the app shows the window
    first, 'Loading…', and opens the store and starts the core behind it."""

    pushStarted = Signal(object)  # the core's PushBatch (tests and diagnostics)

    def __init__(self, core: CoreAPI | None = None, *, ui_state: UiState | None = None, demo: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core: CoreAPI | None = None
        self.demo = demo
        self.ui_state = ui_state or UiState()
        self.setWindowTitle("codatdesk" + (" — demo (local Codat sandbox)" if demo else ""))
        self.setWindowIcon(app_icon())

        self._selection: frozenset[int] = frozenset()  # ids of the selected rows, kept by _on_selection_changed
        self.pushing = PushController(self, self)
        self.editing = EditController(self, self)
        self.files = FilesController(self, self)
        self.pushing.checking.connect(lambda: self.push_action.setEnabled(False))
        self.pushing.batchStarted.connect(self._on_batch_started)
        self.pushing.sending.connect(self._on_sending)
        self.bridge = CoreBridge(self)
        self.model = ExpenseTableModel(None, self)
        self.proxy = ExpenseFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.row_reads = RowReads(self.model, self._rows_refreshed, self)  # off the GUI thread
        self._updatable: dict[int, bool] = {}  # complete rows: can an edit go to the ledger (read off the GUI thread)
        self._updatable_asked: set[int] = set()
        self._updatable_reads = 0  # +1 when what was read may be out of date
        self.coalescer = RowRefreshCoalescer(self.row_reads.request, 16, self)  # about one frame

        self._build_actions()
        self._build_central()
        self._build_menus_and_toolbar()
        self.progress = PushProgressArea(self.statusBar())
        self.health = HealthPanel(self.statusBar())
        self.statusBar().messageChanged.connect(self._fit_status_message)

        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: self._apply_colour_scheme())
        self._dark = is_dark_palette()
        self.model.set_dark(self._dark)
        self._style_action_icons()

        self._restore_state()
        self._show_loading(True)
        self.update_actions()
        if core is not None:
            self.attach_core(core)

    def attach_core(self, core: CoreAPI) -> None:
        """Connect the window to its (started) core: events, the store's rows, the actions."""
        if self.core is not None:
            raise RuntimeError("the window already has a core")
        self.core = core
        self.mine_check.setVisible(hasattr(core, "pushed_by_me"))
        for view in (self.model, self.details, self.mapping, self.connections, self.activity):
            view.set_core(core)  # each reads through the core's read models, never the store
        self.details.receipts.set_core(core)
        self.health.set_listener(core.listener_url)
        for fact in core.health_snapshot():  # what was published before this window existed
            self._on_health(fact)
        self._connect_bridge()
        self.reload_companies()
        self._show_loading(False)
        self.update_actions()
        self.refresh_banner()

    def _show_loading(self, loading: bool) -> None:
        self.loading_label.setVisible(loading)
        if loading:
            self.count_label.setText("Loading…")
            self.empty_label.hide()
        else:
            self._update_count()

    # ------------------------------------------------------------------ construction

    def _action(self, text: str, slot, shortcut: QKeySequence | str | None = None, tip: str = "",
                icon: QStyle.StandardPixmap | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut else tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work wherever the focus is
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.push_action = self._action("&Push selected", self.pushing.push_selected, "Ctrl+P",
                                        "Send the selected expenses to Codat", sp.SP_ArrowUp)
        self.retry_action = self._action("&Retry failed", self.pushing.retry_failed, "Ctrl+R",
                                         "Push every failed expense of this company again (not those of unknown "
                                         "outcome: they may be in the ledger)",
                                         sp.SP_BrowserReload)
        self.import_action = self._action("&Import expenses…", self.files.choose_file_to_import, "Ctrl+I",
                                          "Add expenses from a CSV or Excel file (all lines or none)",
                                          sp.SP_DialogOpenButton)
        self.export_action = self._action("&Export view to CSV…", self.files.choose_export_path, "Ctrl+E",
                                          "Save the rows shown, as sorted and filtered, to a CSV file",
                                          sp.SP_DialogSaveButton)
        self.add_action = self._action("&Add expense…", self.editing.add_expense, "Ctrl+N", "Type in a new expense",
                                       sp.SP_FileIcon)
        self.edit_action = self._action("&Edit expense…", self.editing.edit_selected, "F2",
                                        "Change the selected expense (not pushed or failed only)")
        self.delete_action = self._action("&Delete", self.editing.delete_selected, QKeySequence.StandardKey.Delete,
                                          "Delete the selected expenses that were never pushed", sp.SP_TrashIcon)
        self.reset_action = self._action("Mark as &not pushed", self.editing.reset_selected, None,
                                         "Put failed expenses back to Not pushed")
        self.again_anyway_action = self._action(
            "Push &again anyway…", self.pushing.push_again_anyway_selected, None,
            "Send expenses of unknown outcome again, although Codat may have written them (risk of a duplicate)")
        self.copy_action = self._action("&Copy rows", self.editing.copy_selected, QKeySequence.StandardKey.Copy,
                                        "Copy the selected rows as text")
        self.reconcile_action = self._action("Check with Codat &now", self.pushing.reconcile_now, "F5",
                                             "Ask Codat for the result of every push still in progress")
        self.rates_action = self._action("Currency &rates…", lambda: self.open_rates(), None,
                                         "The company's rates for expenses in other currencies")
        self.settings_action = self._action("&Settings…", self.open_settings, "Ctrl+,",
                                            "Codat API key, company, webhook listener")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.find_action = self._action("&Find", self.focus_search, QKeySequence.StandardKey.Find,
                                        "Search the expenses")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.logs_action = self._action("Open &log folder", self.open_log_folder, None,
                                        "Show the log files (attach them to a support request)")
        self.about_action = self._action("&About codatdesk", self.show_about)

    def _style_action_icons(self) -> None:
        from PySide6.QtGui import QPalette

        text = QApplication.palette().color(QPalette.ColorRole.WindowText).name()
        brand = "#5CC9A7" if self._dark else BRAND  # the brand green, lighter on dark backgrounds
        self.push_action.setIcon(action_icon("push", brand))
        self.retry_action.setIcon(action_icon("retry", text))
        self.reconcile_action.setIcon(action_icon("sync", text))
        self.settings_action.setIcon(action_icon("settings", text))

    def _build_central(self) -> None:
        self.banner = ConnectionBanner()
        self.banner.reconnectRequested.connect(self.reconnect)
        self.banner.checkRequested.connect(self.check_connection)
        self.notice_label = QLabel()
        self.notice_label.setObjectName("noticeBar")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()

        # Filter bar: company, status, search.
        self.company_combo = QComboBox()
        self.company_combo.setMinimumContentsLength(18)
        self.company_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.company_combo.setAccessibleName("Company")
        self.company_combo.currentIndexChanged.connect(self._on_company_changed)
        company_label = QLabel("C&ompany:")
        company_label.setBuddy(self.company_combo)
        self.status_combo = QComboBox()
        self.status_combo.setAccessibleName("Status filter")
        self.status_combo.addItem("All statuses", None)
        self.status_combo.addItem(status_icon(ExpenseStatus.FAILED, False), "Needs attention (failed, unknown)",
                                  NEEDS_ATTENTION)
        for status in ExpenseStatus:
            self.status_combo.addItem(status_icon(status, False), status.value, status.value)
        self.status_combo.currentIndexChanged.connect(self._on_status_filter_changed)
        status_label = QLabel("S&tatus:")
        status_label.setBuddy(self.status_combo)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search supplier, description, account, amount, reason…  (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search expenses")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(lambda: self.proxy.set_search_text(self.search_edit.text()))
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        search_label = QLabel("Sea&rch:")
        search_label.setBuddy(self.search_edit)
        self.count_label = QLabel()
        # Team mode only (a core that knows who pushed what): the rows this person pushed.
        self.mine_check = QCheckBox("Pushed by &me")
        self.mine_check.setVisible(False)
        self.mine_check.toggled.connect(self._on_mine_toggled)
        filters = QHBoxLayout()
        filters.addWidget(company_label)
        filters.addWidget(self.company_combo)
        filters.addSpacing(12)
        filters.addWidget(status_label)
        filters.addWidget(self.status_combo)
        filters.addSpacing(12)
        filters.addWidget(search_label)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.mine_check)
        filters.addWidget(self.count_label)

        # The table.
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.DATE, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setAccessibleName("Expenses")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.editing.edit_selected())
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionsMovable(True)
        # Widths from the font (and, once loaded, the rows); Description takes what is left, so the
        # status column stays in view on a laptop screen, but never less than its header.
        self.columns = ColumnSizer(self.table, self.model)
        self.columns.apply(content=False)
        self.table.setItemDelegateForColumn(Column.STATUS, StatusChipDelegate(self.table))
        self.loading_label = QLabel("Loading…")  # until the core is attached (see _show_loading)
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_label.setEnabled(False)  # drawn in the palette's disabled (grey) text colour
        self.empty_label = QLabel()  # an empty table says how to fill it
        self.empty_label.setObjectName("emptyTable")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        viewport_layout = QVBoxLayout(self.table.viewport())
        viewport_layout.addWidget(self.loading_label)
        viewport_layout.addWidget(self.empty_label)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        enter = QShortcut(QKeySequence(Qt.Key.Key_Return), self.table, self.editing.edit_selected,
                          context=Qt.ShortcutContext.WidgetShortcut)
        enter.setObjectName("editOnEnter")
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

        self.details = DetailsPane(None)
        self.details.fixRequested.connect(lambda expense_id, fix: self.apply_fix(expense_id, fix))
        # Receipts: dropped on a row or attached in the details pane; a refusal says why in a message box.
        self.receipt_drop = ReceiptDropFilter(self.table, lambda: self.core)
        self.receipt_drop.attachFailed.connect(self.receipt_refused)
        self.details.receipts.attachFailed.connect(self.receipt_refused)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1100, 320])
        self.splitter.setChildrenCollapsible(True)

        expenses_page = QWidget()
        expenses_layout = QVBoxLayout(expenses_page)
        expenses_layout.setContentsMargins(0, 4, 0, 0)
        expenses_layout.addLayout(filters)
        self.summary = PushSummaryBar()
        self.summary.showAttentionRequested.connect(self.show_needing_attention)
        expenses_layout.addWidget(self.summary)
        expenses_layout.addWidget(self.splitter, 1)
        self.totals = TotalsLine()
        self.totals.set_source(lambda: (self.shown_rows(), self.selected_rows()))
        expenses_layout.addWidget(self.totals)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged, self.proxy.dataChanged):
            signal.connect(self.totals.schedule)

        self.mapping = MappingView(None, refresh=self.refresh_reference_data,
                                   max_age=lambda: reference_max_age(self.core))
        self.mapping.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.connections = ConnectionsView(None)
        self.connections.reconnectRequested.connect(self.reconnect)
        self.connections.checkRequested.connect(self.check_connection)
        self.activity = ActivityView(None)
        self.activity.expenseActivated.connect(self.select_expense)

        self.tabs = QTabWidget()
        self.tabs.addTab(expenses_page, "Expenses")
        self.tabs.addTab(self.mapping, "Mapping")
        self.tabs.addTab(self.connections, "Connections")
        self.tabs.addTab(self.activity, "Webhook activity")
        for number in range(4):
            QShortcut(QKeySequence(f"Ctrl+{number + 1}"), self, lambda n=number: self.tabs.setCurrentIndex(n))
            self.tabs.setTabToolTip(number, f"Ctrl+{number + 1}")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.setTabOrder(self.company_combo, self.status_combo)
        self.setTabOrder(self.status_combo, self.search_edit)
        self.setTabOrder(self.search_edit, self.table)
        self.setTabOrder(self.table, self.details.copy_button)
        self.setTabOrder(self.details.copy_button, self.details.browser)
        self.table.setFocus()

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for action in (self.import_action, self.export_action, None, self.settings_action, None, self.quit_action):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        expense_menu = menu.addMenu("E&xpenses")
        for action in (self.push_action, self.retry_action, self.again_anyway_action, None, self.add_action,
                       self.edit_action, self.reset_action, self.delete_action, None, self.copy_action, self.find_action,
                       None, self.reconcile_action, self.rates_action):
            expense_menu.addSeparator() if action is None else expense_menu.addAction(action)
        view_menu = menu.addMenu("&View")
        for number, name in enumerate(("&Expenses", "&Mapping", "&Connections", "&Webhook activity")):
            action = view_menu.addAction(name)
            action.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the window-wide shortcut is above
            action.triggered.connect(lambda _checked=False, n=number: self.tabs.setCurrentIndex(n))
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.logs_action)
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in (self.push_action, self.retry_action, None, self.import_action, self.export_action, None,
                       self.add_action, self.delete_action, None, self.reconcile_action, self.settings_action):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _connect_bridge(self) -> None:
        b = self.bridge
        b.connect_queued("expenseChanged", self.coalescer.on_expense_changed)
        b.connect_queued("expensesImported", self._on_imported)
        b.connect_queued("pushProgress", self._on_push_progress)
        b.connect_queued("notice", self._on_notice)
        b.connect_queued("healthChanged", self._on_health)
        b.connect_queued("connectionChanged", self._on_connection_changed)
        b.connect_queued("deliveryRecorded", self.activity.on_delivery_recorded)
        b.attach(self.core.bus)

    # ------------------------------------------------------------------ companies

    def reload_companies(self, select_id: str | None = None) -> None:
        core = self.core
        assert core is not None
        wanted = select_id or self.model.company_id or core.settings.get("ui.last_company_id") or core.company_id
        self.company_combo.blockSignals(True)
        self.company_combo.clear()
        for company in core.companies_to_show():
            self.company_combo.addItem(f"{company.name} · {route_label(company.push_route)}", company.id)
            self.company_combo.setItemData(self.company_combo.count() - 1,
                                           f"{company.id}: pushes as {route_label(company.push_route)}",
                                           Qt.ItemDataRole.ToolTipRole)
        position = self.company_combo.findData(wanted) if wanted else -1
        if position < 0 and self.company_combo.count():
            position = 0
        self.company_combo.setCurrentIndex(position)
        self.company_combo.blockSignals(False)
        self._on_company_changed()

    @property
    def company_id(self) -> str | None:
        return self.company_combo.currentData()

    def _on_company_changed(self, *_args: object) -> None:
        if self.core is None:
            return
        company_id = self.company_id
        if company_id != self.model.company_id or self.model.rowCount() == 0:
            self.model.load(company_id)
            if not self._header_restored:  # the user's own widths win over the content's
                self.columns.apply()
        self._update_count()
        if company_id and company_id != self.core.settings.get("ui.last_company_id"):
            try:
                self.core.settings.set("ui.last_company_id", company_id)
            except OSError:
                log.warning("could not remember the last company", exc_info=True)
        self.mapping.set_company(company_id)
        self.health.show_company(company_id)
        if getattr(self, "rates_dialog", None) is not None:
            self.rates_dialog.view.set_company(company_id)
        self.refresh_banner()
        self._on_selection_changed()
        self._recount_summary()

    # ------------------------------------------------------------------ live updates

    def _rows_refreshed(self, expense_ids: set[int]) -> None:
        if not self._updatable.keys().isdisjoint(expense_ids):
            self._updatable_reads += 1  # an answer on its way may be about the row before this change
            self._updatable.clear()
        if self.summary.tracks_any(expense_ids):
            self._recount_summary()
        if self.details.expense_id in expense_ids:
            self.details.reload()
        if not self._selection.isdisjoint(expense_ids):  # the actions depend on the selected rows only
            self.update_actions()

    def _on_imported(self, event: ExpensesImported) -> None:
        if event.company_id != self.model.company_id:
            self.reload_companies(select_id=event.company_id)
        else:
            self.model.sync()
            self.mapping.request_reload()
            if not self._header_restored:
                self.columns.apply()

    def _on_health(self, event: HealthEvent) -> None:
        from codatdesk.events import ConnectionChecked

        self.health.apply(event)
        if isinstance(event, ConnectionChecked):
            self.refresh_banner()

    def _on_connection_changed(self, event: ConnectionChanged) -> None:
        self.connections.request_reload()
        infos = self.refresh_banner()
        # Only the connection a company pushes to is "Codat: …" (not a banking one, nor one replaced).
        if any(info.connection_id == event.connection_id and info.company_id == event.company_id and info.chosen
               for info in infos):
            self.health.set_connection(event.company_id, event.status)

    def _on_notice(self, notice: Notice) -> None:
        if notice.level == "error" and notice.topic != "connection":  # the banner covers the connection
            self.show_notice(notice.message)
        else:
            self.statusBar().showMessage(notice.message, 10_000)

    def _fit_status_message(self, text: str) -> None:
        """A message longer than the room left of the status bar's permanent widgets would be cut
        mid-word under them: show it shortened with "…", and whole in the tooltip."""
        bar = self.statusBar()
        if not text or text == getattr(self, "_fitted_message", None):
            return
        lefts = [w.geometry().left() for w in bar.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
                 if w.isVisible() and w.width() > 0 and w.geometry().left() > 0]
        room = (min(lefts) if lefts else bar.width()) - 16
        if room <= 0 or bar.fontMetrics().horizontalAdvance(text) <= room:
            bar.setToolTip("")
            return
        self._fitted_message = bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)
        bar.setToolTip(text)
        bar.showMessage(self._fitted_message, 15_000)

    def show_notice(self, message: str) -> None:
        self.notice_label.setText(f"⚠ {message}")
        self._style_notice()
        self.notice_label.show()
        QTimer.singleShot(30_000, self.notice_label, self.notice_label.hide)

    def _style_notice(self) -> None:
        from codatdesk.ui.status_style import style_for

        tones = style_for(ExpenseStatus.OUTCOME_UNKNOWN).tones(self._dark)
        self.notice_label.setStyleSheet(f"#noticeBar {{ background: {tones.background}; color: {tones.text}; "
                                        f"padding: 6px; border-radius: 4px; }}")

    def refresh_banner(self) -> list[ConnectionInfo]:
        """Show or hide the banner for the shown company; returns the connections it read."""
        if self.core is None:
            return []
        infos = self.core.connections()
        self.banner.show_problem(connection_problem(infos, self.company_id))
        return infos

    # ------------------------------------------------------------------ selection

    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [index.data(IdRole) for index in sorted(rows, key=lambda i: i.row())]

    def selected_rows(self) -> list:
        return [row for row in (self.model.row_for_id(i) for i in self.selected_ids()) if row is not None]

    def _on_selection_changed(self, *_args: object) -> None:
        ids = self.selected_ids()
        self._selection = frozenset(ids)
        self._updatable_reads += 1  # read again for what is chosen now (a company's route may have changed)
        self._updatable.clear()
        pushable = sum(1 for row in self.selected_rows() if row.status.can_push) if len(ids) > 1 else None
        self.details.show_selection(ids, pushable)
        self.update_actions()
        self.totals.schedule()

    def update_actions(self) -> None:
        rows = self.selected_rows()
        statuses = {row.status for row in rows}
        ready = self.core is not None  # until then there is nothing to act on
        self.push_action.setEnabled(ready and bool(rows))
        self.edit_action.setEnabled(ready and len(rows) == 1 and (
            self.core.can_edit(rows[0].status)
            or (rows[0].status is ExpenseStatus.COMPLETE and self._updatable_in_ledger(rows[0].id))))
        self.delete_action.setEnabled(ready and ExpenseStatus.NOT_PUSHED in statuses)
        self.reset_action.setEnabled(ready and ExpenseStatus.FAILED in statuses)
        self.again_anyway_action.setEnabled(ready and ExpenseStatus.OUTCOME_UNKNOWN in statuses)
        self.copy_action.setEnabled(bool(rows))
        self.export_action.setEnabled(self.proxy.rowCount() > 0)
        self.retry_action.setEnabled(ready and self.company_id is not None)
        for action in (self.add_action, self.import_action, self.reconcile_action, self.settings_action,
                       self.rates_action):
            action.setEnabled(ready)

    def _updatable_in_ledger(self, expense_id: int) -> bool:
        """Whether an edit of this complete row goes to the ledger as an update; asked off the GUI thread (two
        reads, over the network in team mode), so the answer is "no" until it arrives and enables the action."""
        known = self._updatable.get(expense_id)
        if known is None and self.core is not None and expense_id not in self._updatable_asked:
            core, asked = self.core, self._updatable_reads
            self._updatable_asked.add(expense_id)

            def answered(yes: bool) -> None:
                self._updatable_asked.discard(expense_id)
                if asked == self._updatable_reads:
                    self._updatable[expense_id] = yes
                    self.update_actions()

            run_in_background(lambda: core.can_update_in_ledger(expense_id), answered,
                              lambda _error: self._updatable_asked.discard(expense_id), owner=self)
        return bool(known)

    def _update_count(self, *_args: object) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} of {total} shown" if shown != total else f"{total} expenses")
        self.export_action.setEnabled(shown > 0)
        loading = self.loading_label.isVisible()
        self.empty_label.setText(EMPTY_TABLE_TEXT if total == 0 else NOTHING_MATCHES_TEXT)
        self.empty_label.setVisible(not loading and self.core is not None and shown == 0)

    def shown_rows(self) -> list:
        """The rows the filters let through, in the table's order."""
        rows, shown = self.model.rows(), self.proxy.shown_source_rows()
        return rows if isinstance(shown, range) else [rows[row] for row in shown]  # no filter: a copy made in C

    def show_needing_attention(self) -> None:
        """The push summary's button: only the failed rows and those of unknown outcome."""
        self.tabs.setCurrentIndex(TAB_EXPENSES)
        self.search_edit.clear()
        self.status_combo.setCurrentIndex(self.status_combo.findData(NEEDS_ATTENTION))

    def select_expense(self, expense_id: int) -> bool:
        """Show and select one expense (from the activity view, after adding one)."""
        position = self.model.position_of(expense_id)
        if position is None:
            expense = self.core.expense_values(expense_id) if self.core is not None else None
            if expense is None or expense.company_id == self.company_id:
                return False
            self.reload_companies(select_id=expense.company_id)
            position = self.model.position_of(expense_id)
            if position is None:
                return False
        index = self.proxy.mapFromSource(self.model.index(position, 0))
        if not index.isValid():  # hidden by the filters: clear them rather than select nothing
            self.status_combo.setCurrentIndex(0)
            self.search_edit.clear()
            self.proxy.set_search_text("")
            index = self.proxy.mapFromSource(self.model.index(position, 0))
        self.tabs.setCurrentIndex(TAB_EXPENSES)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        self.table.setFocus()
        return True

    def _on_mine_toggled(self, checked: bool) -> None:
        """Read once per toggle (who pushed a row does not change; rows pushed later need a toggle)."""
        core = self.core
        if not checked or core is None:
            self.proxy.set_id_filter(None)
            return
        run_in_background(core.pushed_by_me, self.proxy.set_id_filter,  # type: ignore[attr-defined]
                          self.background_failed, owner=self)

    def _on_status_filter_changed(self, *_args: object) -> None:
        value = self.status_combo.currentData()
        if value is None:
            self.proxy.set_status_filter(None)
        elif value == NEEDS_ATTENTION:
            self.proxy.set_status_filter({ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN})
        else:
            self.proxy.set_status_filter({ExpenseStatus(value)})
        self._update_count()

    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(TAB_EXPENSES)
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def _show_context_menu(self, position) -> None:
        menu = QMenu(self)
        for action in (self.push_action, self.again_anyway_action, self.reset_action, None, self.edit_action,
                       self.delete_action, None, self.copy_action):
            menu.addSeparator() if action is None else menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # ------------------------------------------------------------------ the controllers' actions

    def push_ids(self, ids: list[int]) -> None:
        self.pushing.push_ids(ids)

    def _on_sending(self, ids: list[int], held_back: int) -> None:
        if len(ids) + held_back > 1:  # one expense says its result in its row and the status bar
            self.summary.track(ids, held_back)
            self._recount_summary()

    def _recount_summary(self) -> None:
        batch = self.summary.batch
        if batch is not None and batch.done.is_set() and self.summary.tracks_any(
                self.coalescer.pending_ids | self.row_reads.unread()):
            return  # the last word waits for those rows' reads (off the GUI thread): _rows_refreshed recounts

        def status_of(expense_id: int) -> ExpenseStatus | None:
            row = self.model.row_for_id(expense_id)
            return row.status if row is not None else None

        self.summary.update_counts(status_of)

    def _on_push_progress(self, event: Any) -> None:
        # A single expense says its result in its row and one status message: a progress bar of its
        # own would only crowd the status bar (two quick pushes drew two cut-off bars side by side).
        if event.total > 1:
            self.progress.on_progress(event)
        if event.finished and self.summary.batch is not None and event.batch_id == self.summary.batch.id:
            # Its rows are read once more, after every send was stored: the last word counts what the batch
            # left, not a row whose read (off the GUI thread) is still on its way.
            self.row_reads.request(self.summary.ids)
            self._recount_summary()

    def _on_batch_started(self, batch: Any) -> None:
        if self.summary.ids and self.summary.batch is None:
            self.summary.attach_batch(batch)
            self._recount_summary()
        if batch.total > 1:
            self.progress.track(batch)
        self.pushStarted.emit(batch)

    @property
    def push_problems_dialog(self) -> QWidget | None:
        return self.pushing.problems_dialog

    @property
    def again_anyway_box(self) -> QMessageBox | None:
        return self.pushing.again_anyway_box

    @property
    def expense_dialog(self) -> QWidget | None:
        return self.editing.expense_dialog

    @property
    def delete_box(self) -> QMessageBox | None:
        return self.editing.delete_box

    @property
    def import_dialog(self) -> QWidget | None:
        return self.files.import_dialog

    def import_file(self, path: str, number_format: NumberFormat | None = None) -> None:
        self.files.import_file(path, number_format)

    def export_view_to(self, path: str) -> int:
        return self.files.export_view_to(path)

    # ------------------------------------------------------------------ Codat lists and connections

    def refresh_reference_data(self, company_id: str) -> None:
        # The Mapping view shows the progress, the counts read and, in plain words, why not.
        run_in_background(lambda: self.core.refresh_reference_data(company_id), self.mapping.refresh_finished,
                          self.mapping.refresh_failed, owner=self)

    def open_rates(self, currency: str | None = None, valid_from: dt.date | None = None) -> None:
        """The company's currency-rate table (one window, reused); ``currency``: start a rate for it."""
        from codatdesk.ui.rates_view import RatesDialog

        if getattr(self, "rates_dialog", None) is None:
            dialog = RatesDialog({
                "read": self.core.read_rates,
                "save": lambda company, code, rate, day, replacing: self.core.save_rate(
                    company, code, rate, day, replacing=replacing),
                "delete": lambda company, rate_id: self.core.delete_rate(company, rate_id),
                "recheck": lambda company: self.core.recheck_missing_rates(company),
            }, self)
            dialog.view.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
            dialog.destroyed.connect(lambda _obj=None: setattr(self, "rates_dialog", None))
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.view.set_company(self.company_id)
            self.rates_dialog = dialog
        if currency:
            self.rates_dialog.view.focus_currency(currency, valid_from)
        self.rates_dialog.show()
        self.rates_dialog.raise_()
        self.rates_dialog.activateWindow()

    def apply_fix(self, expense_id: int, fix: Any, recheck: list[int] | None = None) -> None:
        """A blocked expense's fix (``engine.fixes.Fix``) from explain-before-send: open the place to make it
        (allowing supplier creation is made at once, then the expenses in ``recheck`` are checked again)."""
        from codatdesk.engine import fixes

        row = self.model.row_for_id(expense_id)
        if fix.kind in (fixes.MAP, fixes.CREATE) and fix.mapping_kind and row is not None:
            value = {"account": row.account_code, "bankAccount": row.bank_account, "supplier": row.supplier,
                     "taxRate": row.tax_code}[fix.mapping_kind]
            self.mapping.focus_value(fix.mapping_kind, value)
            self.tabs.setCurrentIndex(TAB_MAPPING)
        elif fix.kind == fixes.EDIT and self.select_expense(expense_id):
            self.editing.edit_selected()
        elif fix.kind == fixes.RATE:
            self.open_rates(fix.currency or (row.currency if row else None), row.date if row else None)
        elif fix.kind == fixes.REFRESH:
            self.tabs.setCurrentIndex(TAB_MAPPING)
            self.mapping.request_refresh()
        elif fix.kind == fixes.SETTINGS:
            self.open_settings()
        elif fix.kind == fixes.RECONNECT:
            self.tabs.setCurrentIndex(TAB_CONNECTIONS)
        elif fix.kind == fixes.ALLOW_SUPPLIERS and row is not None:
            ids = recheck or [expense_id]
            self.mapping.allow_supplier_creation(row.company_id, then=lambda: self.pushing.push_ids(ids))
            return  # the mapping view says what changed
        self.statusBar().showMessage(fix.text, 15_000)

    def check_connection(self, company_id: str) -> None:
        self.statusBar().showMessage("Asking Codat for the connection status…")

        def done(status: str) -> None:
            self.statusBar().showMessage(f"The connection is {status}.", 8000)
            self.health.set_connection(company_id, status)
            self.connections.request_reload()
            self.refresh_banner()

        run_in_background(lambda: self.core.check_connection(company_id), done, self.background_failed, owner=self)

    def reconnect(self, info: ConnectionInfo | None) -> None:
        if info is not None and open_link(info.link_url):
            self.statusBar().showMessage("Codat's link page opened in your browser. Press Check again when done.",
                                         15_000)
        else:
            self.tabs.setCurrentIndex(TAB_CONNECTIONS)
            self.statusBar().showMessage("Codat gave no link for this connection: reconnect it in Codat's portal.",
                                         15_000)

    # ------------------------------------------------------------------ errors

    def receipt_refused(self, reasons: str) -> None:
        from codatdesk.receipts.files import ReceiptRefused

        self.background_failed(ReceiptRefused(reasons))

    def background_failed(self, error: BaseException) -> None:
        from codatdesk.ui.messages import user_message

        self.update_actions()
        title, text = user_message(error)
        log.warning("background action failed: %s", error, exc_info=error)
        self.statusBar().showMessage(text, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.error_box = box
        box.open()

    # ------------------------------------------------------------------ colour scheme and state

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_colour_scheme()
        super().changeEvent(event)

    def _apply_colour_scheme(self) -> None:
        if not hasattr(self, "connections"):  # a palette event during construction
            return
        dark = is_dark_palette(QApplication.palette())
        if dark == getattr(self, "_dark", None):
            return
        self._dark = dark
        self.model.set_dark(dark)
        self._style_action_icons()
        self.details.restyle()
        self.banner.restyle()
        self.health.restyle()
        self.activity.restyle()
        self.mapping.restyle()
        self.connections.request_reload()
        if self.notice_label.isVisible():
            self._style_notice()

    def _restore_state(self) -> None:
        if not self.ui_state.restore_window(self):
            screen = self.screen().availableGeometry() if self.screen() else None
            width = min(1440, screen.width() - 40) if screen else 1440
            height = min(820, screen.height() - 60) if screen else 820
            self.resize(max(960, width), max(600, height))
        self.ui_state.restore_splitter(self.splitter, "expenses")
        self._header_restored = self.ui_state.restore_header(self.table.horizontalHeader(), "expenses")
        self.columns.keep_description_readable()
        self.ui_state.restore_header(self.activity.table.horizontalHeader(), "activity")
        tab = self.ui_state.value("main/tab")
        if tab is not None:
            try:
                self.tabs.setCurrentIndex(int(tab))
            except (TypeError, ValueError):
                pass

    def save_state(self) -> None:
        self.ui_state.save_window(self)
        self.ui_state.save_splitter(self.splitter, "expenses")
        self.ui_state.save_header(self.table.horizontalHeader(), "expenses")
        self.ui_state.save_header(self.activity.table.horizontalHeader(), "activity")
        self.ui_state.set_value("main/tab", self.tabs.currentIndex())
        self.ui_state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        running = self.progress.running()
        if running and not getattr(self, "_confirmed_close", False):
            answer = QMessageBox.question(
                self, "Pushes still running",
                f"{len(running)} push batch(es) are still sending. Quit anyway? Expenses already sent stay "
                "in progress and get their result the next time codatdesk runs.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_state()
        self.bridge.detach()
        super().closeEvent(event)

    # ------------------------------------------------------------------ settings

    def open_settings(self) -> None:
        from codatdesk.ui.settings_dialog import SettingsDialog, known_names

        dialog = SettingsDialog(self.core.settings, actions=self.core, names=known_names(self.core),
                                demo=self.demo, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._settings_saved)
        self.settings_dialog = dialog
        dialog.open()

    def _settings_saved(self, changed: set[str], secrets_changed: set[str], company_name: str | None) -> None:
        core = self.core
        assert core is not None
        if core.settings_saved(changed, secrets_changed).restart_needed:
            self.show_notice("Listener, webhook security and tunnel changes take effect when codatdesk restarts.")
        if changed & {"codat.company_id", "codat.connection_id"} and core.settings.get("codat.company_id"):
            company_id, connection_id = core.settings.get("codat.company_id"), core.settings.get("codat.connection_id")
            run_in_background(lambda: core.set_company(company_id, connection_id, name=company_name),
                              lambda _r: self.reload_companies(select_id=company_id), self.background_failed,
                              owner=self)
        self.statusBar().showMessage("Settings saved.", 6000)

    def bring_to_front(self) -> None:
        from codatdesk.ui.app import bring_to_front

        bring_to_front(self)

    # ------------------------------------------------------------------ help

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir())))

    def show_about(self) -> None:
        from codatdesk import __version__

        QMessageBox.about(self, "About codatdesk",
                          f"<b>codatdesk {__version__}</b><p>Push expenses to your accounting software through "
                          f"Codat and watch them land.</p><p>Data: {paths.data_dir()}<br>Logs: {paths.log_dir()}</p>")
