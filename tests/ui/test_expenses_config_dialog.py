"""Issue #16 (x16e): the Expenses configuration dialog chooses a company's defaults from Codat's lists."""

from __future__ import annotations

from codatdesk import routes
from codatdesk.ui.dialogs.expenses_config_dialog import NOT_SET, ExpensesConfigDialog
from codatdesk.ui.mapping_view import MappingView
from tests.ui.shots import save, shots_folder


def _on_expenses(harness):
    core = harness.core
    routes.set_route(core.db, harness.company_id, routes.EXPENSES)
    core.refresh_reference_data(harness.company_id)
    return core


def test_the_dialog_offers_codats_lists_and_saves_the_choice_at_codat(qtbot, harness, tmp_path):
    core = _on_expenses(harness)
    supplier = harness.sandbox.suppliers(harness.company_id)[0]
    dialog = ExpensesConfigDialog(core, harness.company_id, "Demo Ltd")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.supplier.isEnabled(), timeout=10000)  # the current configuration was read
    banks = [dialog.bank_account.itemText(i) for i in range(dialog.bank_account.count())]
    assert banks[0] == NOT_SET and any(text.startswith("090") for text in banks[1:]), banks
    dialog.bank_account.setCurrentIndex(next(i for i, t in enumerate(banks) if t.startswith("090")))
    dialog.supplier.setCurrentIndex(dialog.supplier.findData(supplier["id"]))
    save(dialog, shots_folder(tmp_path), "expenses_config_dialog")
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save()
    assert saved.args[0].supplier_id == supplier["id"]
    config = harness.sandbox.expenses.config(harness.company_id)
    assert config["supplier"] == {"id": supplier["id"]} and config["bankAccount"]["id"] == saved.args[0].bank_account_id


def test_the_mapping_view_offers_the_dialog_only_for_a_company_on_the_expenses_route(qtbot, harness):
    core = harness.core
    view = MappingView(core, refresh=lambda company_id: None)
    qtbot.addWidget(view)
    view.set_company(harness.company_id)
    view.reload()
    assert view.expenses_config_button.isHidden()
    _on_expenses(harness)
    view.reload()
    assert not view.expenses_config_button.isHidden()
