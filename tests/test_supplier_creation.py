"""Issue #12: an unknown supplier is created first, as a dependent push (suppliers, then the direct
cost), when the company allows it; otherwise the expense is blocked with the reason and the fix."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.engine import suppliers
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Mapping, PushOperation
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, statuses


def test_by_default_an_unknown_supplier_blocks_with_the_way_forward(harness):
    core = harness.start_core()
    harness.import_rows([row(1, supplier="Nobody Ltd")], map_suppliers=False)
    core.refresh_reference_data(harness.sandbox.company_id)
    (problem,) = core.check_pushable([expenses(core)[0].id])
    assert problem.reason == ("supplier Nobody Ltd is not in the ledger's suppliers: map it in Mappings, or allow "
                              "codatdesk to create suppliers for this company (codatdesk suppliers --create on)")
    batch = core.push([expenses(core)[0].id])
    assert batch.wait(20) and batch.sent == 0 and not harness.sandbox.push_operations


def test_allowed_the_supplier_is_created_once_then_its_expenses_go_out_with_it(harness):
    core = harness.start_core()
    harness.import_rows([row(1, supplier="Nobody Ltd"), row(2, supplier="Nobody Ltd")], map_suppliers=False)
    suppliers.set_supplier_creation(core.db, harness.sandbox.company_id, True)
    core.refresh_reference_data(harness.sandbox.company_id)
    ids = [e.id for e in expenses(core)]
    assert core.check_pushable(ids) == []
    batch = core.push(ids)
    assert batch.wait(20) and batch.sent == 2
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE] * 2, 20, message="supplier, then both expenses")
    (created,) = [s for s in harness.sandbox.suppliers() if s.get("supplierName") == "Nobody Ltd"]
    assert {c["contactRef"]["id"] for c in harness.sandbox.ledger()} == {created["id"]}
    with Session(core.db) as session:
        ops = session.exec(select(PushOperation).where(PushOperation.data_type == "suppliers")).all()
        assert [op.creates_code for op in ops] == ["Nobody Ltd"]  # one supplier push for both
        mapping = session.exec(select(Mapping).where(Mapping.kind == "supplier")).all()
        assert [(m.local_value, m.codat_id) for m in mapping if m.local_value == "Nobody Ltd"] == \
            [("Nobody Ltd", created["id"])]


def test_an_expense_whose_supplier_and_account_are_both_new_is_held_back(harness):
    core = harness.start_core()
    harness.import_rows([row(1, supplier="Nobody Ltd", account="486", name="Software")], map_suppliers=False)
    suppliers.set_supplier_creation(core.db, harness.sandbox.company_id, True)
    core.refresh_reference_data(harness.sandbox.company_id)
    (problem,) = core.check_pushable([expenses(core)[0].id])
    assert "supplier Nobody Ltd and account 486 are both new" in problem.reason


def test_a_supplier_name_too_long_for_the_ledger_is_not_sent():
    from codatdesk.engine.create_models import Models, Rule, supplier_body

    model = {"type": "Object", "displayName": "Supplier", "required": True, "properties": {
        "supplierName": {"type": "String", "displayName": "Supplier Name", "description": "x", "required": True,
                         "validation": {"warnings": [{"field": "SupplierName", "details": "Max length of 41 characters."}]}},
        "status": {"type": "String", "displayName": "Status", "description": "x", "required": False,
                   "options": [{"value": "Active", "type": "String", "displayName": "Active", "required": False}]},
    }}
    models = Models("QuickBooks Desktop", {"suppliers": Rule.parse("suppliers", model)})
    assert supplier_body(models, "Acme").body == {"supplierName": "Acme", "status": "Active"}
    (reason,) = supplier_body(models, "A" * 42).problems
    assert reason == (f"supplier {'A' * 42} cannot be created: the supplier's name is 42 characters long; "
                      "QuickBooks Desktop takes at most 41: shorten it (edit the expense), or map it to an existing "
                      "supplier in Mappings")
    assert "Codat cannot create suppliers there" in supplier_body(Models("Sage", {"suppliers": None}), "A").problems[0]
