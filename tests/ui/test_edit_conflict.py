"""Two people, one row: a save over someone else's newer save shows both versions and loses neither."""

from __future__ import annotations

from codatdesk.engine import edits
from codatdesk.store.actor import set_actor
from tests.ui.test_controllers import fake, fake_window, opened_dialog, select, shown  # noqa: F401 - fixtures and helpers


def test_a_stale_save_opens_both_versions_and_mine_can_still_be_saved(qtbot, fake, fake_window):  # noqa: F811
    ids = shown(qtbot, fake_window, fake, 1)
    select(fake_window, ids)
    fake_window.editing.edit_selected()
    dialog = opened_dialog(qtbot, fake_window)
    # Meanwhile a colleague saves the same row.
    set_actor(fake.db, "bob")
    edits.update_expense(fake.db, None, ids[0], {"description": "bob's note"})
    set_actor(fake.db, "alice")

    dialog.set_values({"supplier": "Alice Ltd"})
    dialog.buttons.accepted.emit()

    qtbot.waitUntil(lambda: fake_window.editing.conflict_dialog is not None, timeout=5000)
    conflict = fake_window.editing.conflict_dialog
    cells = {conflict.table.item(r, 0).text(): (conflict.table.item(r, 1).text(), conflict.table.item(r, 2).text())
             for r in range(conflict.table.rowCount())}
    assert cells["supplier"] == ("Alice Ltd", "Supplier 0000")
    assert cells["description"][1] == "bob's note"
    assert "bob" in conflict.table.horizontalHeaderItem(2).text()
    assert fake_window.model.row_for_id(ids[0]).supplier == "Supplier 0000", "nothing saved before the choice"

    conflict.save_mine.click()
    qtbot.waitUntil(lambda: fake_window.model.row_for_id(ids[0]).supplier == "Alice Ltd", timeout=5000)
    assert fake.expense_values(ids[0]).description == "bob's note", "bob's other change is kept"
