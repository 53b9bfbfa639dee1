"""Webhook activity: expenses named by supplier, date and amount; readable columns; verdict colours right in
dark mode from the start (the palette was dark before the view existed, so no palette-change event comes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from codatdesk.importer import ensure_company
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense, WebhookDelivery
from codatdesk.ui.activity_view import HEADERS, ActivityView
from codatdesk.ui.status_style import style_for
from tests.ui.fake_core import StoreReads
from tests.ui.helpers import dark_palette
from tests.ui.shots import save, shots_folder

VERDICT = HEADERS.index("Verdict")
EXPENSE = HEADERS.index("Expense")


@pytest.fixture
def deliveries(db):
    with session_scope(db) as session:
        ensure_company(session, "c1", "Company c1")
        expense = Expense(company_id="c1", expense_date=dt.date(2024, 3, 5), supplier_name="Acme Taxis Ltd",
                          description="Taxi", account_code="429", bank_account_code="090", tax_code="INPUT2",
                          net=Decimal("10.00"), tax=Decimal("2.00"), total=Decimal("12.00"), currency="GBP",
                          reference="R1", source_key="k1", status=ExpenseStatus.COMPLETE)
        session.add(expense)
        session.flush()
        session.add_all([
            WebhookDelivery(delivery_id="d-applied", event_type="directCosts.write.successful", body=b"{}",
                            verdict="applied", verdict_detail="Push complete", expense_id=expense.id),
            WebhookDelivery(delivery_id="d-stale", event_type="directCosts.write.unsuccessful", body=b"{}",
                            verdict="stale", verdict_detail="for a replaced push", expense_id=expense.id),
            WebhookDelivery(delivery_id="d-unusable", event_type="", body=b"{", verdict="unusable",
                            verdict_detail="not JSON")])
        return expense.id


def shown(qtbot, db) -> ActivityView:
    view = ActivityView(StoreReads(db))
    qtbot.addWidget(view)
    view.resize(1100, 260)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    return view


def verdict_colours(view: ActivityView) -> dict[str, tuple[str, str]]:
    colours = {}
    for row in range(view.proxy.rowCount()):
        index = view.proxy.index(row, VERDICT)
        colours[index.data()] = (index.data(Qt.ItemDataRole.BackgroundRole).color().name().upper(),
                                 index.data(Qt.ItemDataRole.ForegroundRole).color().name().upper())
    return colours


def test_expenses_are_named_by_supplier_date_and_amount(qtbot, db, deliveries, tmp_path):
    view = shown(qtbot, db)
    texts = {view.proxy.index(r, EXPENSE).data() for r in range(view.proxy.rowCount())}
    assert "Acme Taxis Ltd · 2024-03-05 · 12.00 GBP" in texts
    assert not any(text.startswith("#") for text in texts)
    view.search.setText("acme")
    assert view.proxy.rowCount() == 2
    save(view, shots_folder(tmp_path), "activity-names-light")


def test_event_and_why_columns_fit_their_text(qtbot, db, deliveries):
    view = shown(qtbot, db)
    metrics = view.table.fontMetrics()
    assert view.table.columnWidth(HEADERS.index("Event")) > metrics.horizontalAdvance("directCosts.write.unsuccessful")
    assert view.table.columnWidth(HEADERS.index("Why")) > metrics.horizontalAdvance("Older than what is already known")


def test_verdict_colours_are_dark_when_the_app_starts_dark(qtbot, qapp, db, deliveries, tmp_path):
    folder = shots_folder(tmp_path)
    light_view = shown(qtbot, db)
    light = verdict_colours(light_view)
    save(light_view, folder, "activity-light")
    original = QApplication.palette()
    qapp.setPalette(dark_palette())  # before the view exists: as when the desktop is in dark mode
    try:
        dark_view = shown(qtbot, db)
        dark = verdict_colours(dark_view)
        image = dark_view.grab().toImage()
        save(dark_view, folder, "activity-dark")
        rect = dark_view.table.visualRect(dark_view.proxy.index(0, VERDICT))
        origin = dark_view.table.viewport().mapTo(dark_view, rect.topRight())
        ratio = image.devicePixelRatio()
        pixel = image.pixelColor(int((origin.x() - 4) * ratio), int((origin.y() + rect.height() // 2) * ratio))
    finally:
        qapp.setPalette(original)
    for verdict, (background, text) in dark.items():
        look = {"applied": ExpenseStatus.COMPLETE, "stale": ExpenseStatus.NOT_PUSHED,
                "unusable": ExpenseStatus.OUTCOME_UNKNOWN}[verdict]
        assert (background, text) == (style_for(look).dark.background, style_for(look).dark.text), verdict
        assert (background, text) != light[verdict], verdict
    assert pixel.lightness() < 128, pixel.name()  # the painted tint is the dark one, not a light patch
