"""A real window on a team desktop core (PostgreSQL, offscreen): requested rows show *Push requested*,
and "Pushed by me" keeps the rows this person pushed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from codatdesk.engine import edits
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.actor import set_actor
from codatdesk.store.db import open_database
from codatdesk.team import requests
from codatdesk.team.desktop import TeamDesktopCore

VALUES = {"expense_date": dt.date(2026, 11, 1), "supplier_name": "Acme", "account_code": "429",
          "bank_account_code": "090", "net": Decimal("10.00"), "tax": Decimal("2.00"), "total": Decimal("12.00"),
          "currency": "GBP"}


def test_the_window_shows_requests_and_filters_pushed_by_me(qtbot, tmp_path, pg_url):
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    db = open_database(pg_url)
    set_actor(db, "alice")
    core = TeamDesktopCore(Settings(tmp_path / "settings.json", environ={}), db)
    core.settings.update({"codat.company_id": "c1"})
    ids = [edits.add_expense(db, None, "c1", VALUES) for _ in range(3)]
    requests.request_push(db, ids[:2], "alice")
    requests.request_push(db, ids[2:], "bob")
    core.start()
    window = MainWindow(core, ui_state=UiState(tmp_path / "ui.ini"))
    window._confirmed_close = True
    qtbot.addWidget(window)
    window.show()
    try:
        window.reload_companies(select_id="c1")
        qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
        assert {window.model.row_for_id(i).status for i in ids} == {S.QUEUED}
        assert window.mine_check.isVisible()

        window.mine_check.setChecked(True)
        qtbot.waitUntil(lambda: window.proxy.rowCount() == 2, timeout=5000)
        window.mine_check.setChecked(False)
        assert window.proxy.rowCount() == 3

        # The details pane names who asked.
        from codatdesk.ui.details_pane import render_html

        assert "by bob" in render_html(core.expense_details(ids[2]), False)
    finally:
        window.bridge.detach()
        core.stop()
        db.dispose()
