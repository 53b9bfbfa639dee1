"""Renders the window in light and dark palettes to artifacts/screenshots/ for a human (and a check) to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication

from codatdesk.events import DeliveryRecorded
from codatdesk.importer import ImportReport, LineError
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Connection
from codatdesk.ui.dialogs.import_report import ImportReportDialog
from codatdesk.ui.dialogs.push_problems import PushProblemsDialog
from codatdesk.ui.expense_model import Column
from codatdesk.ui.main_window import TAB_ACTIVITY, TAB_MAPPING, MainWindow
from codatdesk.ui.settings_dialog import SettingsDialog
from codatdesk.ui.status_style import style_for
from codatdesk.ui.ui_state import UiState
from tests.engine_harness import row
from tests.ui.helpers import dark_palette, set_status

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def light_palette(qapp):
    original = QPalette(qapp.palette())
    yield original
    qapp.setPalette(original)


def save(widget, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def pixel_colour_of_status_cell(window, expense_id) -> str:
    index = window.proxy.mapFromSource(window.model.index(window.model.position_of(expense_id), Column.STATUS))
    rect = window.table.visualRect(index)
    image: QImage = window.table.viewport().grab().toImage()
    # Sample the right end of the cell: past the icon and the text.
    return image.pixelColor(rect.right() - 4, rect.center().y()).name().upper()


def test_render_main_window_light_and_dark(qtbot, harness, light_palette, ui_state_dir):
    rows = [row(1, supplier="Uber"), row(2, supplier="Trainline", note=" to Leeds"), row(3, supplier="Pret A Manger"),
            row(4, supplier="Staples", bank="091", note=" printer paper"),
            row(5, supplier="Premier Inn", note=" [sandbox:timeout]"), row(6, supplier="Amazon Web Services"),
            row(7, supplier="Adobe", account="7790", name="Software subscriptions"), row(8, supplier="Royal Mail"),
            row(9, supplier="Shell", net="1234.56", tax="246.91", total="1481.47"), row(10, supplier="WeWork")]
    harness.import_rows(rows)
    harness.close_bank_account_after_reading("091")  # Codat refuses row 4: 091 is no longer a bank account
    window = MainWindow(harness.core, ui_state=UiState(ui_state_dir / "ui.ini"))
    qtbot.addWidget(window)
    window.show()
    window.resize(1440, 820)
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=5000)
    ids = sorted(window.model.ids())
    window.push_ids(ids[:7])
    qtbot.waitUntil(lambda: all(window.model.row_for_id(i).status.is_final for i in ids[:7]), timeout=20000)
    set_status(harness.core.db, ids[7], ExpenseStatus.IN_PROGRESS)
    set_status(harness.core.db, ids[8], ExpenseStatus.WAITING, "waiting for account 7791 to be created")
    window.model.refresh_rows(ids)
    harness.core.bus.publish(DeliveryRecorded("forged-1", "rejected", "directCosts.write.successful",
                                              "signature does not match any signing secret"))
    failed = next(i for i in ids if window.model.row_for_id(i).status is ExpenseStatus.FAILED)
    window.select_expense(failed)
    qtbot.waitUntil(lambda: "Validation errors" in window.details.plain_text(), timeout=5000)
    qtbot.wait(50)

    light = save(window, "main-light")
    complete = next(i for i in ids if window.model.row_for_id(i).status is ExpenseStatus.COMPLETE)
    assert pixel_colour_of_status_cell(window, complete) == style_for(ExpenseStatus.COMPLETE).light.background
    unknown = next(i for i in ids if window.model.row_for_id(i).status is ExpenseStatus.OUTCOME_UNKNOWN)
    assert pixel_colour_of_status_cell(window, unknown) == style_for(ExpenseStatus.OUTCOME_UNKNOWN).light.background
    window.tabs.setCurrentIndex(TAB_ACTIVITY)
    qtbot.wait(50)
    save(window, "activity-light")
    window.tabs.setCurrentIndex(TAB_MAPPING)
    window.mapping.request_refresh()
    qtbot.waitUntil(lambda: window.mapping.refresh_button.isEnabled() and window.mapping.model.rowCount() > 0,
                    timeout=10000)
    save(window, "mapping-light")

    QApplication.instance().setPalette(dark_palette())
    qtbot.waitUntil(lambda: window.model.dark, timeout=2000)
    window.tabs.setCurrentIndex(0)
    window.select_expense(failed)
    qtbot.wait(50)
    dark = save(window, "main-dark")
    assert pixel_colour_of_status_cell(window, complete) == style_for(ExpenseStatus.COMPLETE).dark.background
    assert pixel_colour_of_status_cell(window, unknown) == style_for(ExpenseStatus.OUTCOME_UNKNOWN).dark.background

    # The connection goes down: the banner, in dark.
    with session_scope(harness.core.db) as session:
        conn = session.get(Connection, harness.sandbox.connection_id) or Connection(
            id=harness.sandbox.connection_id, company_id=harness.sandbox.company_id)
        conn.status, conn.platform_name = "Deauthorized", "Xero"
        session.add(conn)
    window.refresh_banner()
    qtbot.wait(50)
    save(window, "banner-dark")
    QApplication.instance().setPalette(light_palette)
    qtbot.waitUntil(lambda: not window.model.dark, timeout=2000)
    save(window, "banner-light")
    assert light.stat().st_size > 20_000 and dark.stat().st_size > 20_000
    window.close()


def test_render_dialogs(qtbot, tmp_path, light_palette):
    from codatdesk.settings import Settings

    settings = SettingsDialog(Settings(tmp_path / "s.json", environ={}))
    qtbot.addWidget(settings)
    settings.show()
    qtbot.waitUntil(lambda: settings.keyring_status.ok is True, timeout=5000)
    save(settings, "settings-light")
    report = ImportReport("/home/ann/expenses-march.csv", rows=3, errors=[
        LineError(3, "bad date '2024-13-01'; use YYYY-MM-DD", "date"),
        LineError(7, "totals do not add up: net 10.00 + tax 2.00 != total 12.50", "total"),
        LineError(9, "looks like a spreadsheet formula; remove the leading symbol", "supplier")])
    dialog = ImportReportDialog(report)
    qtbot.addWidget(dialog)
    dialog.show()
    save(dialog, "import-report-light")
    problems = PushProblemsDialog([(12, "2024-03-01 · Uber · 12.00 GBP", "already in the ledger (Push complete)"),
                                   (15, "2024-03-04 · Staples · 8.40 GBP", "the payment account is missing")], 3)
    qtbot.addWidget(problems)
    problems.show()
    save(problems, "push-problems-light")
    QApplication.instance().setPalette(dark_palette())
    settings.keyring_status.ok = None
    settings.keyring_status.check()
    qtbot.waitUntil(lambda: settings.keyring_status.ok is True, timeout=5000)
    settings.tabs.setCurrentIndex(2)  # webhook security: the secrets
    qtbot.wait(50)
    save(settings, "settings-dark")
