"""Issue #16 (x16b): split lines, tracking categories, push route per company and employee claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from codatdesk import routes
from codatdesk.engine.edits import InvalidExpense
from codatdesk.lines import Line
from codatdesk.sandbox import Sandbox, SandboxConfig
from codatdesk.states import ExpenseStatus
from codatdesk.store.lines import lines_of
from codatdesk.store.models import Expense
from tests.conftest import wait_until
from tests.engine_harness import statuses
from tests.openapi_schemas import validate
from tests.sandbox_support import client_for

D = Decimal
THREE_LINES = [
    Line("429", D("50.00"), D("10.00"), "INPUT2", "Team lunch", ("DEPARTMENT_2",)),
    Line("493", D("30.00"), D("0.00"), "ZERORATEDINPUT", "Train", ("Website relaunch", "Sales")),
    Line("461", D("20.00"), D("4.00"), "INPUT2", "Printing"),
]


def _values(**overrides) -> dict:
    return {"expense_date": dt.date(2026, 11, 3), "supplier_name": "Acme Office Supplies", "description": "Trip",
            "account_name": "General Expenses", "bank_account_code": "090", "currency": "GBP",
            "reference": "SPLIT-1", "lines": THREE_LINES, **overrides}


def _stored(core, expense_id: int) -> tuple[Expense, list[Line]]:
    with Session(core.db) as session:
        expense = session.get(Expense, expense_id)
        return expense, lines_of(session, expense)


def test_a_split_expense_never_sent_can_be_deleted_with_its_lines(harness):
    """Its lines refer to it: deleting it failed on the foreign key before (found by mypy work on the route)."""
    from sqlmodel import select

    from codatdesk.store.models import ExpenseLine

    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values())
    assert core.delete_expenses([expense_id]) == 1
    with Session(core.db) as session:
        assert session.get(Expense, expense_id) is None
        assert session.exec(select(ExpenseLine).where(ExpenseLine.expense_id == expense_id)).all() == []


# -- the totals rule over the lines --------------------------------------------------------------

def test_lines_are_stored_in_order_and_the_expense_carries_their_sums(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values())
    expense, lines = _stored(core, expense_id)
    assert lines == THREE_LINES
    assert (expense.line_count, expense.net, expense.tax, expense.total) == (3, D("100.00"), D("14.00"), D("114.00"))
    assert (expense.account_code, expense.tax_code) == ("429", "INPUT2")  # line 1's, for sorting and search


def test_lines_that_do_not_add_up_to_the_total_are_refused_with_the_sums(harness):
    core = harness.start_core(listen=False)
    with pytest.raises(InvalidExpense) as refused:
        core.add_expense(harness.company_id, _values(total=D("120.00")))
    problem = next(p for p in refused.value.problems if p.field == "lines")
    assert problem.text == "the lines add up to 114.00 (net 100.00 + tax 14.00), not the expense's total 120.00"
    with pytest.raises(InvalidExpense, match="line 2: the account code is missing"):
        core.add_expense(harness.company_id, _values(lines=[THREE_LINES[0], Line("", D("1.00"), D("0"))]))
    with pytest.raises(InvalidExpense, match=r"line 1: 1.005 has more decimals than the currency has \(2\)"):
        core.add_expense(harness.company_id, _values(lines=[Line("429", D("1.005"), D("0"))]))


def test_a_split_expense_keeps_the_rule_when_only_its_amounts_are_edited(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values())
    with pytest.raises(InvalidExpense, match=r"the lines' net adds up to 100\.00, not the expense's net 90\.00"):
        core.update_expense(expense_id, {"net": D("90.00"), "total": D("104.00")})
    core.update_expense(expense_id, {"lines": THREE_LINES[:2]})
    expense, lines = _stored(core, expense_id)
    assert (expense.line_count, expense.total, len(lines)) == (2, D("90.00"), 2)


def test_one_line_without_tracking_stays_in_the_expense_itself(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values(lines=[Line("429", D("10.00"), D("2.00"), "INPUT2")]))
    expense, lines = _stored(core, expense_id)
    assert expense.line_count == 0 and (expense.net, expense.total) == (D("10.00"), D("12.00"))
    assert lines == [Line("429", D("10.00"), D("2.00"), "INPUT2", "Trip")]


# -- the push of a split expense with tracking ------------------------------------------------------

def test_a_three_line_expense_with_tracking_is_booked_line_by_line(harness):
    core = harness.start_core()
    core.refresh_reference_data(harness.company_id)
    expense_id = core.add_expense(harness.company_id, _values())
    assert core.check_pushable([expense_id]) == []
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: statuses(core) == [ExpenseStatus.COMPLETE], 20, message="the split expense completes")
    (cost,) = harness.sandbox.ledger()
    accounts = {a["id"]: a["nominalCode"] for a in harness.sandbox.state.company(harness.company_id).accounts.values()}
    assert [(accounts[i["accountRef"]["id"]], i["subTotal"], i["taxAmount"], i["totalAmount"])
            for i in cost["lineItems"]] == [("429", 50, 10, 60), ("493", 30, 0, 30), ("461", 20, 4, 24)]
    assert [i.get("tracking") for i in cost["lineItems"]] == [
        {"recordRefs": [{"id": "DEPARTMENT_2", "dataType": "trackingCategories"}]},
        {"recordRefs": [{"id": "PROJECT_1", "dataType": "trackingCategories"},
                        {"id": "DEPARTMENT_1", "dataType": "trackingCategories"}]},
        None]
    assert (cost["subTotal"], cost["taxAmount"], cost["totalAmount"]) == (100, 14, 114)
    (booking,) = harness.sandbox.bookings()
    assert [line["trackingCategoryIds"] for line in booking["lines"]] == [
        ["DEPARTMENT_2"], ["PROJECT_1", "DEPARTMENT_1"], []]


def test_tracking_that_is_unknown_or_a_parent_category_is_stopped_before_sending(harness):
    core = harness.start_core(listen=False)
    core.refresh_reference_data(harness.company_id)
    lines = [Line("429", D("10.00"), D("2.00"), "INPUT2", tracking=("Departments",)),
             Line("493", D("5.00"), D("0.00"), "ZERORATEDINPUT", tracking=("Marketing",))]
    expense_id = core.add_expense(harness.company_id, _values(lines=lines))
    reasons = [p.reason for p in core.check_pushable([expense_id])]
    assert reasons == [
        "line 1: tracking category Departments has sub-categories; choose one of them (edit the expense's line)",
        "line 2: tracking category Marketing is not one of the ledger's tracking categories: map it in Mappings, "
        "or edit the expense's line"]
    batch = core.push([expense_id])
    assert batch.wait(20) and batch.sent == 0 and not harness.sandbox.push_operations


def test_the_sandbox_serves_tracking_categories_as_codat_does_and_refuses_a_parent():
    sandbox = Sandbox(SandboxConfig(push_delay=0.05))
    try:
        with client_for(sandbox) as http:
            url = f"/companies/{sandbox.company_id}/data/trackingCategories"
            body = http.get(url).json()
            validate(body, "Codat-Accounting-2023.json", "TrackingCategories", strict=True)
            by_id = {c["id"]: c for c in body["results"]}
            assert by_id["DEPARTMENTS"]["hasChildren"] and by_id["DEPARTMENT_2"]["parentId"] == "DEPARTMENTS"
            one = http.get(f"{url}/PROJECT_1").json()
            validate(one, "Codat-Accounting-2023.json", "TrackingCategory", strict=True)
            assert http.get(f"{url}/NOPE").status_code == 404
        from codatdesk.sandbox.state import evaluate_direct_cost

        data = sandbox.state.company(sandbox.company_id)
        account = next(a["id"] for a in data.accounts.values() if a["nominalCode"] == "429")
        line = {"quantity": 1, "unitAmount": 1, "accountRef": {"id": account},
                "tracking": {"recordRefs": [{"id": "DEPARTMENTS", "dataType": "trackingCategories"}]}}
        errors = evaluate_direct_cost({"lineItems": [line]}, data)
        assert {"itemId": "LineItems[0].Tracking.RecordRefs[0].Id", "validatorName": "TrackingCategory",
                "message": "Tracking category DEPARTMENTS has sub-categories: choose one of them."} in errors
    finally:
        sandbox.shutdown()


# -- push route and employee claims -------------------------------------------------------------------

def test_a_claim_is_not_refused_by_the_expenses_route(harness):
    core = harness.start_core(listen=False)
    expense_id = core.add_expense(harness.company_id, _values(is_claim=True, employee="Jo Bloggs"))
    routes.set_route(core.db, harness.company_id, routes.parse_route("Expenses"))
    assert all(p.kind != "route" for p in core.check_pushable([expense_id]))


def test_an_employee_claim_needs_the_employee_and_is_refused_as_a_direct_cost(harness):
    core = harness.start_core(listen=False)
    with pytest.raises(InvalidExpense, match="an employee claim needs the employee"):
        core.add_expense(harness.company_id, _values(is_claim=True))
    expense_id = core.add_expense(harness.company_id, _values(is_claim=True, employee="Jo Bloggs"))
    (problem,) = core.check_pushable([expense_id])
    assert problem.reason.startswith("an employee claim is owed to the employee (Codat books it as a bill against "
                                     "the employee through its Expenses route)")
    assert "switch the company to the Expenses route (codatdesk route expenses)" in problem.reason


def test_route_names_are_read_leniently_and_a_wrong_one_names_the_choices():
    assert routes.parse_route("direct-costs") == routes.DIRECT_COSTS
    assert routes.parse_route(" EXPENSES ") == routes.EXPENSES
    with pytest.raises(ValueError, match="use directCosts or expenses"):
        routes.parse_route("bills")


def test_the_route_command_shows_sets_and_refuses_a_wrong_route(tmp_path):
    from tests.test_cli import run_cli

    home = tmp_path / "home"
    data = Path(__file__).parent / "data" / "lines" / "split_lines.csv"
    assert run_cli(["import", str(data), "--company", "co"], home=home).returncode == 0
    shown = run_cli(["route", "--company", "co"], home=home)
    assert shown.returncode == 0 and shown.stdout.strip() == "company co: pushes as Direct costs (directCosts)"
    changed = run_cli(["route", "expenses", "--company", "co"], home=home)
    assert changed.stdout.strip() == "company co: pushes as Expenses (expenses)"
    wrong = run_cli(["route", "bills", "--company", "co"], home=home)
    assert wrong.returncode != 0 and "'bills' is not a push route: use directCosts or expenses" in wrong.stderr


def test_the_body_of_a_split_expense_with_tracking_is_codats_direct_cost(harness):
    import json

    from sqlmodel import select

    from codatdesk.store.models import PushAttempt

    core = harness.start_core(listen=False)
    core.refresh_reference_data(harness.company_id)
    expense_id = core.add_expense(harness.company_id, _values())
    assert core.push([expense_id]).wait(20)
    with Session(core.db) as session:
        (attempt,) = session.exec(select(PushAttempt).where(PushAttempt.expense_id == expense_id)).all()
    body = json.loads(attempt.request_json)
    validate(body, "Codat-Accounting-2023.json", "DirectCost", strict=True)
    assert [len(i.get("tracking", {}).get("recordRefs", [])) for i in body["lineItems"]] == [1, 2, 0]


def test_a_split_whose_first_line_is_untaxed_is_judged_on_that_line_not_the_whole_tax(harness):
    """Line 1's tax code is the expense's, but the "tax but no tax code" rule is about line 1's own tax: a split
    with an untaxed line 1 and a taxed line 2 was refused for the tax of line 2 (both routes)."""
    from codatdesk.engine import reference

    core = harness.start_core()
    core.refresh_reference_data(harness.company_id)
    core.set_mapping(harness.company_id, "taxRate", reference.NO_TAX, "NONE")
    untaxed_first = [Line("493", D("30.00"), D("0.00"), "", "Train"), Line("429", D("50.00"), D("10.00"), "INPUT2")]
    taxed_first_without_code = [Line("493", D("30.00"), D("6.00"), "", "Train"), untaxed_first[1]]
    fine = core.add_expense(harness.company_id, _values(lines=untaxed_first))
    refused = core.add_expense(harness.company_id, _values(lines=taxed_first_without_code, reference="SPLIT-2"))
    problems = {p.expense_id: p.reason for p in core.check_pushable([fine, refused])}
    assert fine not in problems
    assert "tax amount but no tax code" in problems[refused]
    routes.set_route(core.db, harness.company_id, routes.parse_route("Expenses"))
    assert not [p for p in core.check_pushable([fine]) if "tax" in p.reason]
    routes.set_route(core.db, harness.company_id, routes.parse_route("directCosts"))
    batch = core.push([fine])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: harness.sandbox.ledger(harness.company_id), 20, message="the split expense booked")
    (cost,) = harness.sandbox.ledger(harness.company_id)
    assert [(i["taxAmount"], i["taxRateRef"]["id"]) for i in cost["lineItems"]] == [(0, "NONE"), (10, "INPUT2")]
