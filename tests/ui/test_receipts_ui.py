"""Receipts in the window: dropped on a row, attached and retried in the details pane, and the row's badge."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from sqlmodel import select

from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Receipt
from codatdesk.ui.expense_model import Column
from tests.receipt_samples import pdf_bytes, png_bytes, write
from tests.ui.fake_core import FakeCore
from tests.ui.helpers import add_expenses, set_status, wait_for

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def fake(tmp_path):
    core = FakeCore(tmp_path)
    yield core
    core.close()


@pytest.fixture
def window(qtbot, fake, ui_state_dir):
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    window = MainWindow(fake, ui_state=UiState(ui_state_dir / "ui.ini"))
    window._confirmed_close = True
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    yield window
    window.bridge.detach()


def view_row(window, expense_id: int) -> int:
    proxy = window.proxy
    for r in range(proxy.rowCount()):
        if proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 3) == expense_id:
            return r
    raise AssertionError(f"expense {expense_id} not shown")


def drop_files(window, expense_id: int, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    rect = window.table.visualRect(window.proxy.index(view_row(window, expense_id), Column.SUPPLIER))
    point = QPointF(rect.center())
    viewport = window.table.viewport()
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, drop)
    assert drop.isAccepted()


def test_files_dropped_on_a_row_are_attached_to_that_expense(window, fake, tmp_path):
    first, second = add_expenses(fake.db, "c1", 2)
    window.reload_companies()
    wait_for(lambda: window.proxy.rowCount() == 2, message="rows shown")
    drop_files(window, second, [write(tmp_path, "taxi.png", png_bytes()), write(tmp_path, "hotel.pdf", pdf_bytes())])
    wait_for(lambda: len(fake.receipts(second)) == 2, message="both attached")
    assert fake.receipts(first) == []
    # The dropped-on row is selected and the details pane lists the files with their state.
    wait_for(lambda: window.details.expense_id == second and window.details.receipts.list.count() == 2,
             message="details show the receipts")
    texts = [window.details.receipts.list.item(i).text() for i in range(2)]
    assert texts == ["taxi.png\nUpload: waits for the push to complete", "hotel.pdf\nUpload: waits for the push to complete"]


def test_a_refused_drop_says_why(window, fake, tmp_path, qtbot):
    (expense,) = add_expenses(fake.db, "c1", 1)
    window.reload_companies()
    wait_for(lambda: window.proxy.rowCount() == 1, message="row shown")
    with qtbot.waitSignal(window.receipt_drop.attachFailed, timeout=10_000) as refused:
        drop_files(window, expense, [write(tmp_path, "notes.png", b"plain text, not an image")])
    assert "notes.png is not a PDF, PNG, JPEG or HEIC file" in refused.args[0]
    assert fake.receipts(expense) == []


def test_the_details_pane_attaches_shows_and_retries(window, fake, tmp_path, monkeypatch):
    (expense,) = add_expenses(fake.db, "c1", 1)
    window.reload_companies()
    wait_for(lambda: window.proxy.rowCount() == 1, message="row shown")
    window.table.selectRow(0)
    panel = window.details.receipts
    wait_for(lambda: panel.isVisible() and panel.hint.text().startswith("No receipt yet"), message="the panel read")
    assert panel.hint.isVisible() and panel.list.count() == 0
    from PySide6.QtWidgets import QFileDialog

    chosen = str(write(tmp_path, "lunch.png", png_bytes(32, 24)))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([chosen], ""))
    panel.attach_button.click()
    wait_for(lambda: panel.list.count() == 1, message="attached from the button")
    assert not panel.list.item(0).icon().isNull()  # the image's own thumbnail
    (receipt,) = fake.receipts(expense)
    with session_scope(fake.db) as session:
        row = session.get(Receipt, receipt.id)
        row.upload_status, row.upload_detail = "failed", "Codat refused the upload: too big. Check the file, then retry."
        session.add(row)
    panel.reload()
    wait_for(lambda: "failed: Codat refused" in panel.list.item(0).text(), message="read again (off the GUI thread)")
    panel.list.item(0).setSelected(True)
    assert panel.title.text() == "Receipts (1) · 1 not uploaded: choose it and retry"
    assert panel.retry_button.isEnabled() and panel.detach_button.isEnabled()
    panel.retry_button.click()
    wait_for(lambda: ("retry_receipt_upload", receipt.id) in fake.calls, message="retry asked of the core")


def test_a_complete_row_whose_receipt_is_not_uploaded_says_so(window, fake, tmp_path):
    done, failed = add_expenses(fake.db, "c1", 2)
    for expense_id in (done, failed):
        set_status(fake.db, expense_id, ExpenseStatus.COMPLETE)
        fake.attach_receipt(expense_id, write(tmp_path, f"r{expense_id}.png", png_bytes()))
    with session_scope(fake.db) as session:
        for receipt in session.exec(select(Receipt).where(Receipt.expense_id == failed)):
            receipt.upload_status = "failed"
    window.reload_companies()
    wait_for(lambda: window.proxy.rowCount() == 2, message="rows shown")

    def status_text(expense_id: int) -> str:
        return window.proxy.index(view_row(window, expense_id), Column.STATUS).data()

    assert status_text(done) == "Push complete · receipt uploading"
    assert status_text(failed) == "Push complete · receipt failed"
    window.columns.apply()
    chip = window.table.visualRect(window.proxy.index(view_row(window, done), Column.STATUS)).width()
    assert chip > window.table.fontMetrics().horizontalAdvance("Push complete · receipt uploading")  # not elided
    with session_scope(fake.db) as session:
        for receipt in session.exec(select(Receipt).where(Receipt.expense_id == done)):
            receipt.upload_status = "uploaded"
    window.model.refresh_rows({done})
    assert status_text(done) == "Push complete"


def test_screenshot_of_the_details_pane_with_receipts(window, fake, tmp_path):
    (expense,) = add_expenses(fake.db, "c1", 1)
    set_status(fake.db, expense, ExpenseStatus.COMPLETE)
    fake.attach_receipt(expense, write(tmp_path, "taxi-receipt.png", png_bytes(40, 56, (90, 140, 200))))
    fake.attach_receipt(expense, write(tmp_path, "hotel-invoice.pdf", pdf_bytes()))
    with session_scope(fake.db) as session:
        receipts = list(session.exec(select(Receipt).order_by(Receipt.id)))
        receipts[0].upload_status = "uploaded"
        receipts[1].upload_status, receipts[1].upload_detail = "failed", "Codat could not take it now. Retry later."
    window.reload_companies()
    wait_for(lambda: window.proxy.rowCount() == 1, message="row shown")
    window.table.selectRow(0)
    wait_for(lambda: window.details.receipts.list.count() == 2, message="receipts shown")
    SHOTS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    assert window.grab().save(str(SHOTS / "receipts-window.png"))
    assert window.details.grab().save(str(SHOTS / "receipts-details.png"))


def test_receipts_are_read_off_the_gui_thread_and_never_shown_under_another_expense(qtbot, fake, tmp_path):
    """A colleague's receipt comes from the team's database the first time (slow over a network): the panel
    reads on a worker, says it is reading, and a slow answer for the previous expense is dropped."""
    import threading

    from codatdesk.ui.receipts_panel import ReceiptsPanel

    first, second = add_expenses(fake.db, "c1", 2)
    fake.attach_receipt(first, write(tmp_path, "first.png", png_bytes()))
    gate, threads = threading.Event(), []
    hold_reads_of(fake, "receipts", first, gate, threads)
    panel = ReceiptsPanel()
    qtbot.addWidget(panel)
    panel.set_core(fake)
    panel.show_expense(first)
    assert panel.hint.text().startswith("Reading") and panel.list.count() == 0  # the GUI thread did not wait
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_expense(second)  # while the first is still being read
    gate.set()
    wait_for(lambda: panel._reads.dropped == 1, message="the first's answer delivered, and dropped")
    assert len(threads) == 2
    assert panel.list.count() == 0 and panel.hint.text().startswith("No receipt yet")
    assert threading.current_thread().name not in threads


def test_the_details_pane_reads_off_the_gui_thread_and_never_shows_the_previous_expense(qtbot, fake):
    """An expense's details are several reads (over the network in team mode): the pane says it is reading,
    and a slow answer for the expense chosen before is dropped."""
    import threading

    from codatdesk.ui.details_pane import DetailsPane, render_text

    first, second = add_expenses(fake.db, "c1", 2)
    gate, threads = threading.Event(), []
    real = hold_reads_of(fake, "expense_details", first, gate, threads)
    pane = DetailsPane(fake)
    qtbot.addWidget(pane)
    pane.show_expense(first)
    assert "Reading" in pane.shown_text() and pane.plain_text() == ""  # the GUI thread did not wait
    with qtbot.waitSignal(pane.loaded, timeout=5000):
        pane.show_expense(second)  # while the first is still being read
    assert pane.expense_id == second and f"#{second}" in pane.title.text()
    gate.set()
    wait_for(lambda: pane._reads.dropped == 1, message="the first's answer delivered, and dropped")
    assert threading.current_thread().name not in threads
    assert pane.title.text() == f"Expense #{second}" and pane.plain_text() == render_text(real(second))


def hold_reads_of(fake, method: str, expense_id: int, gate, threads: list[str]):
    """Make ``fake.<method>`` note its thread and, for ``expense_id``, wait for ``gate``; returns the real one."""
    import threading

    real = getattr(fake, method)

    def held(asked: int):
        threads.append(threading.current_thread().name)
        if asked == expense_id:
            assert gate.wait(10)
        return real(asked)

    setattr(fake, method, held)
    return real
