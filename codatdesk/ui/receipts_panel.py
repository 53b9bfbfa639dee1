"""The receipts of the expense in the details pane: thumbnails, names, upload state; attach, retry, detach.

Files come from the "Attach…" button (a file dialog) or are dropped onto the panel or onto a row of the
table (``ReceiptDropFilter``). Attaching copies and writes the store, so it runs off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from codatdesk.core_api import CoreAPI, ReceiptView
from codatdesk.ui.expense_model import IdRole
from codatdesk.ui.workers import LatestRead, run_in_background

THUMB = 48
NO_RECEIPT_HINT = "No receipt yet: attach one, or drop the file here or on the row."
FILE_FILTER = "Receipts (*.pdf *.png *.jpg *.jpeg *.heic *.heif);;All files (*)"


def attach_files(core: CoreAPI, expense_id: int, paths: Sequence[str | Path]) -> list[str]:
    """Attach each file; returns the refusals (one file's problem does not stop the others)."""
    from codatdesk.receipts.files import ReceiptRefused

    refusals = []
    for path in paths:
        try:
            core.attach_receipt(expense_id, path)
        except ReceiptRefused as refused:
            refusals.append(str(refused))
    return refusals


def local_files(event: QDropEvent) -> list[str]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


def thumbnail(receipt: ReceiptView) -> QIcon:
    """The image itself, small; a drawn PDF page for PDFs (and for an image Qt cannot read, e.g. HEIC)."""
    if receipt.is_image:
        image = QPixmap(str(receipt.path))
        if not image.isNull():
            return QIcon(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))
    return QIcon(_page_icon("PDF" if receipt.media_type == "application/pdf" else receipt.media_type.split("/")[-1]))


def _page_icon(label: str) -> QPixmap:
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor("#8a8a8a"))
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(8, 2, THUMB - 16, THUMB - 4, 3, 3)
    painter.setBrush(QColor("#c62828"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRect(8, THUMB // 2 - 7, THUMB - 16, 14)
    painter.setPen(QColor("#ffffff"))
    font = QFont()
    font.setPixelSize(10)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(8, THUMB // 2 - 7, THUMB - 16, 14, int(Qt.AlignmentFlag.AlignCenter), label.upper()[:4])
    painter.end()
    return pixmap


class ReceiptsPanel(QWidget):
    """Receipts of one expense; ``show_expense(None)`` hides it."""

    attachFailed = Signal(str)  # the refusals, in plain words
    changed = Signal()
    loaded = Signal()  # a read of the receipts is shown (tests wait on it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core: CoreAPI | None = None
        self._expense_id: int | None = None
        self._receipts: list[ReceiptView] = []
        self._shown_for: int | None = None  # the expense whose receipts the list shows (or is reading)
        self._reads = LatestRead(self)  # a read still going is for an older state: its answer is dropped
        self.setAcceptDrops(True)
        self.title = QLabel("Receipts")
        self.title.setObjectName("receiptsTitle")
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAccessibleName("Receipts")
        self.list.setMaximumHeight(3 * (THUMB + 16))
        self.list.setWordWrap(True)  # a failure's reason is read whole, not scrolled to
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.hint = QLabel(NO_RECEIPT_HINT)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        self.attach_button = QPushButton("&Attach…")
        self.attach_button.setToolTip("Attach a receipt (PDF, PNG, JPEG or HEIC) to this expense")
        self.attach_button.clicked.connect(self.choose_files)
        self.retry_button = QPushButton("&Retry upload")
        self.retry_button.setToolTip("Upload the chosen receipt again (the expense is not pushed again)")
        self.retry_button.clicked.connect(self.retry_selected)
        self.detach_button = QPushButton("Detach")
        self.detach_button.setToolTip("Remove the chosen receipt from this expense (not possible once in the ledger)")
        self.detach_button.clicked.connect(self.detach_selected)
        buttons = QHBoxLayout()
        for button in (self.attach_button, self.retry_button, self.detach_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        self.show_expense(None)

    def set_core(self, core: CoreAPI) -> None:
        self.core = core
        self.reload()

    @property
    def receipts(self) -> list[ReceiptView]:
        return list(self._receipts)

    def show_expense(self, expense_id: int | None) -> None:
        self._expense_id = expense_id
        self.reload()

    def reload(self) -> None:
        """Read the receipts off the GUI thread: in team mode a colleague's receipt is fetched from the team's
        database the first time it is shown, which may take a while over the network."""
        shown = self._expense_id is not None and self.core is not None
        self.setVisible(shown)
        if not shown:
            self._reads.drop()
            self._receipts, self._shown_for = [], None
            return
        core, expense_id = self.core, self._expense_id
        assert core is not None and expense_id is not None
        if expense_id != self._shown_for:  # another expense: never show its predecessor's receipts meanwhile
            self._receipts, self._shown_for = [], expense_id
            self.list.clear()
            self.list.setVisible(False)
            self.title.setText("Receipts")
            self.hint.setText("Reading the receipts…")
            self.hint.setVisible(True)
            self._update_buttons()
        self._reads.start(lambda: core.receipts(expense_id), self._show, self._read_failed)

    def _read_failed(self, error: BaseException) -> None:
        self.hint.setText(f"The receipts could not be read: {error}")
        self.hint.setVisible(True)
        self.loaded.emit()

    def _show(self, receipts: list[ReceiptView]) -> None:
        chosen = self._chosen_id()
        self._receipts = receipts
        self.hint.setText(NO_RECEIPT_HINT)
        self.list.clear()
        for receipt in self._receipts:
            item = QListWidgetItem(thumbnail(receipt), f"{receipt.file_name}\nUpload: {receipt.state_text}")
            item.setData(Qt.ItemDataRole.UserRole, receipt.id)
            item.setToolTip(f"{receipt.file_name} ({receipt.size:,} bytes): {receipt.state_text}")
            self.list.addItem(item)
            if receipt.id == chosen:
                item.setSelected(True)
        self.list.setVisible(bool(self._receipts))
        self.hint.setVisible(not self._receipts)
        failed = sum(1 for r in self._receipts if r.upload_status in ("failed", "refused"))
        title = f"Receipts ({len(self._receipts)})" if self._receipts else "Receipts"
        self.title.setText(f"{title} · {failed} not uploaded: choose it and retry" if failed else title)
        self._update_buttons()
        self.loaded.emit()

    def _chosen_id(self) -> int | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _chosen(self) -> ReceiptView | None:
        chosen = self._chosen_id()
        return next((r for r in self._receipts if r.id == chosen), None)

    def _update_buttons(self) -> None:
        receipt = self._chosen()
        self.retry_button.setEnabled(receipt is not None and receipt.upload_status in ("failed", "refused"))
        self.detach_button.setEnabled(receipt is not None and receipt.upload_status not in ("uploaded", "uploading"))

    # -- actions ---------------------------------------------------------------------
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Attach receipts", "", FILE_FILTER)
        if paths:
            self.attach(paths)

    def attach(self, paths: Sequence[str]) -> None:
        if self.core is None or self._expense_id is None:
            return
        attach_in_background(self.core, self._expense_id, paths, self, self._attached)

    def _attached(self, refusals: list[str]) -> None:
        self.reload()
        self.changed.emit()
        if refusals:
            self.attachFailed.emit("\n".join(refusals))

    def retry_selected(self) -> None:
        receipt = self._chosen()
        if self.core is not None and receipt is not None:
            core = self.core
            run_in_background(lambda: core.retry_receipt_upload(receipt.id), lambda _r: self.reload(),
                              lambda error: self.attachFailed.emit(str(error)), owner=self)

    def detach_selected(self) -> None:
        receipt = self._chosen()
        if self.core is not None and receipt is not None:
            core = self.core
            run_in_background(lambda: core.detach_receipt(receipt.id), lambda _r: self._attached([]),
                              lambda error: self.attachFailed.emit(str(error)), owner=self)

    # -- dropping files on the panel -------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._expense_id is not None and local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event)
        if paths and self._expense_id is not None:
            event.acceptProposedAction()
            self.attach(paths)


def attach_in_background(core: CoreAPI, expense_id: int, paths: Sequence[str], owner: QObject,
                         done: Callable[[list[str]], None]) -> None:
    chosen = list(paths)
    run_in_background(lambda: attach_files(core, expense_id, chosen), done,
                      lambda error: done([str(error)]), owner=owner)


class ReceiptDropFilter(QObject):
    """Files dropped onto a row of the expenses table are attached to that row's expense."""

    attachFailed = Signal(str)
    attached = Signal(int)  # expense id

    def __init__(self, table: QTableView, core: Callable[[], CoreAPI | None]) -> None:
        super().__init__(table)
        self.table = table
        self.core = core
        table.viewport().setAcceptDrops(True)
        table.viewport().installEventFilter(self)

    def expense_at(self, event: QDropEvent) -> int | None:
        index = self.table.indexAt(event.position().toPoint())
        return index.data(IdRole) if index.isValid() else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDropEvent)  # drag enter and move events derive from it
            if local_files(event) and self.core() is not None and \
                    (event.type() is QEvent.Type.DragEnter or self.expense_at(event) is not None):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            return self.drop(event)
        return False

    def drop(self, event: QDropEvent) -> bool:
        core, expense_id, paths = self.core(), self.expense_at(event), local_files(event)
        if core is None or expense_id is None or not paths:
            event.ignore()
            return True
        event.acceptProposedAction()
        self.table.selectRow(self.table.indexAt(event.position().toPoint()).row())

        def done(refusals: list[str]) -> None:
            self.attached.emit(expense_id)
            if refusals:
                self.attachFailed.emit("\n".join(refusals))

        attach_in_background(core, expense_id, paths, self, done)
        return True
