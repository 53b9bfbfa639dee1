"""The window's controllers against a fake core on the CoreAPI seam: no sockets, threads or sandbox."""

from __future__ import annotations

import inspect
import threading

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QMenu

from codatdesk.core_api import CoreAPI
from codatdesk.engine.core import Core
from codatdesk.engine.pusher import PushProblem
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense
from tests.ui.fake_core import FakeCore
from tests.ui.helpers import add_expenses, set_status


def protocol_members() -> list[str]:
    return [name for name in dir(CoreAPI) if not name.startswith("_")] + list(CoreAPI.__annotations__)


@pytest.mark.parametrize("implementation", [Core, FakeCore])
def test_core_and_the_fake_answer_everything_the_window_may_ask(implementation):
    for name in protocol_members():
        assert hasattr(implementation, name) or name in ("settings", "bus"), f"{implementation.__name__}.{name}"
        wanted = getattr(CoreAPI, name, None)
        if inspect.isfunction(wanted):
            have = inspect.signature(getattr(implementation, name)).parameters
            assert list(inspect.signature(wanted).parameters)[:len(have)] == list(have)[:len(
                inspect.signature(wanted).parameters)], name


@pytest.fixture
def fake(tmp_path):
    core = FakeCore(tmp_path)
    yield core
    core.close()


@pytest.fixture
def fake_window(qtbot, fake, ui_state_dir):
    from codatdesk.ui.main_window import MainWindow
    from codatdesk.ui.ui_state import UiState

    window = MainWindow(fake, ui_state=UiState(ui_state_dir / "ui.ini"))
    window._confirmed_close = True
    qtbot.addWidget(window)
    window.show()
    yield window
    window.bridge.detach()


def shown(qtbot, window, fake, count: int, **kwargs) -> list[int]:
    ids = add_expenses(fake.db, "c1", count, **kwargs)
    window.reload_companies(select_id="c1")
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)
    return ids


def opened_dialog(qtbot, window):
    """The expense dialog, once what it shows has been read (off the GUI thread) and it is open."""
    qtbot.waitUntil(lambda: window.expense_dialog is not None and window.expense_dialog.isVisible(), timeout=5000)
    return window.expense_dialog


def select(window, ids) -> None:
    selection = QItemSelection()
    for expense_id in ids:
        index = window.proxy.mapFromSource(window.model.index(window.model.position_of(expense_id), 0))
        selection.select(index, index)
    window.table.selectionModel().select(
        selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)


def test_push_checks_first_then_sends_the_selection(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 3)
    select(fake_window, ids[:2])
    with qtbot.waitSignal(fake_window.pushStarted, timeout=5000) as started:
        fake_window.pushing.push_selected()
    assert [(name, sorted(sent)) for name, sent in fake.calls] == [("check_pushable", ids[:2]), ("push", ids[:2])]
    assert started.args[0].total == 2


def test_a_blocked_expense_is_explained_and_only_the_rest_is_sent(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 2)
    fake.problems = [PushProblem(ids[0], "the payment account is missing")]
    select(fake_window, ids)
    fake_window.pushing.push_selected()
    qtbot.waitUntil(lambda: fake_window.push_problems_dialog is not None
                    and fake_window.push_problems_dialog.isVisible(), timeout=5000)
    dialog = fake_window.push_problems_dialog
    assert "payment account is missing" in dialog.table.item(0, 2).text()
    assert [name for name, _ids in fake.calls] == ["check_pushable"]  # nothing sent yet
    with qtbot.waitSignal(fake_window.pushStarted, timeout=5000):
        dialog.push_button.click()
    assert fake.calls[-1] == ("push", [ids[1]])


def test_retry_asks_the_core_which_statuses_count(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 2)
    set_status(fake.db, ids[0], ExpenseStatus.OUTCOME_UNKNOWN)  # may be in the ledger: not retried
    fake_window.model.refresh_rows(ids)
    fake_window.pushing.retry_failed()
    assert "Nothing to retry" in fake_window.statusBar().currentMessage()
    assert fake.calls == []
    set_status(fake.db, ids[1], ExpenseStatus.FAILED)
    fake_window.model.refresh_rows(ids)
    with qtbot.waitSignal(fake_window.pushStarted, timeout=5000):
        fake_window.pushing.retry_failed()
    assert fake.calls == [("check_pushable", [ids[1]]), ("push", [ids[1]])]


def problems_dialog_shown(qtbot, window) -> object:
    qtbot.waitUntil(lambda: window.push_problems_dialog is not None and window.push_problems_dialog.isVisible(),
                    timeout=5000)
    return window.push_problems_dialog


def test_retry_failed_explains_what_would_fail_again_before_sending(qtbot, fake, fake_window):
    """A failed row whose cause is still there (an unmapped paid-from) is not sent to fail again."""
    ids = shown(qtbot, fake_window, fake, 2, status=ExpenseStatus.FAILED)
    fake.problems = [PushProblem(ids[0], "payment account 777 is not one of the ledger's active bank accounts: "
                                         "map it in Mappings, or edit the expense")]
    fake_window.retry_action.trigger()
    dialog = problems_dialog_shown(qtbot, fake_window)
    assert [name for name, _ids in fake.calls] == ["check_pushable"]  # nothing sent yet
    assert dialog.push_button.text().replace("&", "") == "Push the other 1"
    with qtbot.waitSignal(fake_window.pushStarted, timeout=5000):
        dialog.push_button.click()
    assert fake.calls[-1] == ("push", [ids[1]])


def test_push_again_anyway_is_checked_too_and_sends_only_what_passes(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 2, status=ExpenseStatus.OUTCOME_UNKNOWN)
    fake.problems = [PushProblem(ids[0], "EUR expense on 2024-03-01: no currency rate")]
    select(fake_window, ids)
    fake_window.again_anyway_action.trigger()
    box = fake_window.again_anyway_box
    next(b for b in box.buttons() if "risk a duplicate" in b.text()).click()
    dialog = problems_dialog_shown(qtbot, fake_window)
    assert [(name, sorted(sent)) for name, sent in fake.calls] == [("check_pushable", sorted(ids))]
    with qtbot.waitSignal(fake_window.pushStarted, timeout=5000):
        dialog.push_button.click()
    assert fake.calls[-1] == ("push_again_anyway", [ids[1]])


def test_keyboard_and_context_menu_push_go_through_the_check(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 2)
    fake.problems = [PushProblem(ids[0], "the payment account is missing")]
    select(fake_window, ids)
    fake_window.table.setFocus()
    qtbot.keyClick(fake_window.table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    problems_dialog_shown(qtbot, fake_window).reject()
    assert [name for name, _ids in fake.calls] == ["check_pushable"]
    fake_window._show_context_menu(fake_window.table.rect().center())
    menu = fake_window.findChildren(QMenu)[-1]
    push = next(a for a in menu.actions() if a.text().replace("&", "").startswith("Push selected"))
    assert push is fake_window.push_action  # the same action, so the same path
    push.trigger()
    qtbot.waitUntil(lambda: [name for name, _ids in fake.calls] == ["check_pushable"] * 2, timeout=5000)
    problems_dialog_shown(qtbot, fake_window)


def test_a_sent_expense_cannot_be_edited(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 1, status=ExpenseStatus.COMPLETE)
    select(fake_window, ids)
    assert not fake_window.edit_action.isEnabled()
    fake_window.editing.edit_selected()
    bar = fake_window.statusBar()  # a long message is shortened, and whole in the tooltip
    qtbot.waitUntil(lambda: "cannot be edited" in (bar.toolTip() or bar.currentMessage()), timeout=5000)
    assert fake_window.expense_dialog is None


def test_edit_fills_the_dialog_from_the_cores_read_model_and_saves_through_it(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 1)
    select(fake_window, ids)
    fake_window.editing.edit_selected()
    fake_window.editing.edit_selected()  # a second press while reading opens nothing twice
    dialog = opened_dialog(qtbot, fake_window)
    assert dialog.raw_values()["supplier"] == "Supplier 0000" and dialog.raw_values()["net"] == "10.50"
    # Read off the GUI thread (a team's database may be across the network), once.
    assert len(fake.values_read_on) == 1 and threading.current_thread().name not in fake.values_read_on
    assert len(fake_window.findChildren(type(dialog))) == 1
    dialog.set_values({"supplier": "Renamed Ltd"})
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: fake_window.model.row_for_id(ids[0]).supplier == "Renamed Ltd", timeout=5000)


def test_an_expense_deleted_by_a_colleague_before_its_dialog_opens_says_so(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 1)
    select(fake_window, ids)
    with session_scope(fake.db) as session:  # a colleague deletes it; this table has not heard yet
        session.delete(session.get(Expense, ids[0]))
    fake_window.editing.edit_selected()
    bar = fake_window.statusBar()
    qtbot.waitUntil(lambda: "no longer there" in (bar.toolTip() or bar.currentMessage()), timeout=5000)
    assert fake_window.expense_dialog is None


def test_the_dialog_shows_the_cores_rules_and_a_good_expense_is_added(qtbot, fake, fake_window):
    fake_window.editing.add_expense()
    dialog = opened_dialog(qtbot, fake_window)
    dialog.set_values({"date": "2024-03-01", "supplier": "=cmd", "account_code": "429", "bank_account": "090",
                       "net": "10.00", "tax": "2.00", "total": "12.50", "currency": "GBP"})
    errors = dialog.revalidate()
    assert "formula" in errors["supplier"] and errors["total"] == "net + tax is 12.00, not 12.50"
    dialog.buttons.accepted.emit()
    assert dialog.isVisible()  # not accepted
    dialog.set_values({"supplier": "Uber", "total": "12.00"})
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: fake_window.model.rowCount() == 1, timeout=5000)
    assert fake_window.model.row_at(0).supplier == "Uber"


def test_settings_that_need_a_restart_are_the_cores_answer(qtbot, fake, fake_window):
    fake_window._settings_saved({"listener.port"}, set(), None)
    assert fake_window.notice_label.isVisibleTo(fake_window) and "restarts" in fake_window.notice_label.text()
    assert fake.calls == [("settings_saved", ({"listener.port"}, set()))]
    fake_window.notice_label.hide()
    fake_window._settings_saved({"push.timeout_in_minutes"}, set(), None)
    assert not fake_window.notice_label.isVisibleTo(fake_window)


def test_delete_asks_then_deletes_only_never_pushed_rows(qtbot, fake, fake_window):
    ids = shown(qtbot, fake_window, fake, 2)
    set_status(fake.db, ids[1], ExpenseStatus.FAILED)
    fake_window.model.refresh_rows(ids)
    select(fake_window, ids)
    fake_window.editing.delete_selected()
    box = fake_window.delete_box
    assert "1 selected expense(s) were pushed and stay" in box.text()
    next(b for b in box.buttons() if b.text() == "&Delete 1").click()
    qtbot.waitUntil(lambda: fake_window.model.rowCount() == 1, timeout=5000)
    assert fake.calls == [("delete_expenses", [ids[0]])]


def test_a_row_in_the_ledger_on_the_expenses_route_is_edited_as_an_update(qtbot, fake, fake_window):
    """Issue #16: where Codat takes updates, editing a complete row sends the change to the ledger (PUT)."""
    ids = shown(qtbot, fake_window, fake, 1, status=ExpenseStatus.COMPLETE)
    fake.updatable_in_ledger.add(ids[0])
    select(fake_window, ids)
    assert not fake_window.edit_action.isEnabled()  # until the answer, read off the GUI thread, arrives
    qtbot.waitUntil(fake_window.edit_action.isEnabled, timeout=5000)
    assert fake.updatable_asked_on and threading.current_thread().name not in fake.updatable_asked_on
    fake_window.editing.edit_selected()
    dialog = opened_dialog(qtbot, fake_window)
    assert dialog.windowTitle() == "Update the expense in the ledger"
    dialog.set_values({"description": "Taxi to the airport"})
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: ("update_in_ledger", ids[0], {"description": "Taxi to the airport"}) in fake.calls,
                    timeout=5000)
