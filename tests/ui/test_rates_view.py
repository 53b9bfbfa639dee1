"""The currency-rate table: listing in the base currency, validation in the user's number format,
and a change that unblocks (or blocks again) the expenses held back for want of a rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from codatdesk.amounts import number_format
from codatdesk.engine import currency, rate_table
from codatdesk.engine.currency import is_missing_rate
from tests.engine_harness import row


@pytest.fixture
def blocked(qtbot, harness, window):
    """Two EUR expenses in the GBP sandbox company, held back for want of a rate."""
    harness.import_rows([row(i).replace(",GBP,", ",EUR,") for i in (1, 2)])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    ids = window.model.ids()
    problems = harness.core.check_pushable(ids)  # reads Codat's lists and the base currency, notes the reasons
    assert all(is_missing_rate(p.reason) for p in problems if p.reason.startswith("EUR"))
    qtbot.waitUntil(lambda: all(is_missing_rate(window.model.row_for_id(i).status_detail) for i in ids),
                    timeout=5000)
    return ids


def open_rates(qtbot, window, currency_code=None, valid_from=None):
    window.open_rates(currency_code, valid_from)
    view = window.rates_dialog.view
    qtbot.waitUntil(lambda: view.base_currency == "GBP", timeout=5000)
    return view


def test_a_rate_added_in_the_users_format_unblocks_the_expenses(qtbot, harness, window, blocked):
    view = open_rates(qtbot, window, "EUR", dt.date(2026, 11, 1))
    assert view.currency_edit.text() == "EUR" and view.date_edit.date().toPython() == dt.date(2026, 11, 1)
    assert "GBP" in view.intro.text()
    view.number_format = number_format("de_DE")  # a German user types 0,85
    view.rate_edit.setText("0,85")
    assert view.reading.text().startswith("Read as 1 EUR = 0,85 GBP") and view.save_button.isEnabled()
    with qtbot.waitSignal(view.changed, timeout=10000) as changed:
        view.save_button.click()
    assert sorted(changed.args[0].unblocked) == sorted(blocked)
    qtbot.waitUntil(lambda: not any(is_missing_rate(window.model.row_for_id(i).status_detail) for i in blocked),
                    timeout=5000)
    assert "2 expense(s) held back for want of a rate can be pushed now" in view.result.text()
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=5000)
    assert view.table.item(0, 1).text() == "1 EUR = 0,85 GBP"
    assert view.table.item(0, 3).text() not in ("", "—")  # who set it
    (entry,) = currency.list_rates(harness.core.db, harness.sandbox.company_id)
    assert entry.rate == Decimal("0.85") and entry.valid_from == dt.date(2026, 11, 1)
    assert harness.core.check_pushable(blocked) == []
    view.grab().save("/tmp/shots/rates_view.png")


@pytest.mark.parametrize(("code", "rate", "says"), [
    ("GBP", "0.85", "GBP is the company's base currency"),
    ("XYZ", "0.85", "XYZ is not a currency code"),
    ("EUR", "0", "greater than 0"),
    ("EUR", "-1", "greater than 0"),
    ("EUR", "0.8.5", "not written like 0.85"),
    ("EUR", "", "Type the rate"),
])
def test_a_bad_rate_is_explained_and_cannot_be_saved(qtbot, harness, window, blocked, code, rate, says):
    view = open_rates(qtbot, window)
    view.currency_edit.setText(code)
    view.rate_edit.setText(rate)
    assert says in view.reading.text()
    assert not view.save_button.isEnabled()


def test_changing_and_deleting_a_rate_blocks_the_expenses_again(qtbot, harness, window, blocked):
    company = harness.sandbox.company_id
    currency.set_rate(harness.core.db, company, "EUR", Decimal("0.9"), dt.date(2026, 1, 1))  # as `rates set` does
    assert sorted(rate_table.recheck_missing_rates(harness.core.db, harness.core.pusher, company).unblocked) \
        == sorted(blocked)
    view = open_rates(qtbot, window)
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=5000)
    assert view.table.item(0, 3).text() == "—"  # set from the command line before authors were kept
    view.table.selectRow(0)
    assert view.save_button.text() == "&Save changes" and view.rate_edit.text() == "0.90"
    view.date_edit.setDate(dt.date(2026, 12, 1))  # moved past the expenses' November dates: they lose it
    with qtbot.waitSignal(view.changed, timeout=10000) as changed:
        view.save_button.click()
    assert sorted(changed.args[0].blocked) == sorted(blocked)  # were pushable through the January rate
    assert [e.valid_from for e in currency.list_rates(harness.core.db, company)] == [dt.date(2026, 12, 1)]
    qtbot.waitUntil(lambda: all(is_missing_rate(window.model.row_for_id(i).status_detail) for i in blocked),
                    timeout=5000)

    qtbot.waitUntil(lambda: view.table.rowCount() == 1 and view.table.item(0, 2).text() == "2026-12-01",
                    timeout=5000)
    view.table.selectRow(0)
    view.confirm_delete()
    box = view.delete_box
    with qtbot.waitSignal(view.changed, timeout=10000):
        next(b for b in box.buttons() if b.text() == "&Delete rate").click()
    assert currency.list_rates(harness.core.db, company) == []
    qtbot.waitUntil(lambda: view.table.rowCount() == 0, timeout=5000)


def test_the_rate_table_is_in_the_expenses_menu(window):
    titles = [a.text() for menu in window.menuBar().actions() if menu.menu() for a in menu.menu().actions()]
    assert "Currency &rates…" in titles
