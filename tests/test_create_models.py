"""Issue #12, section 2: Codat's create models are read per connection, cached, and every expense
is checked against them before sending; a new account's body is built from the account model."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import Session, select

from codatdesk.engine import create_models
from codatdesk.engine.create_models import Models, Rule, account_body, parse_length
from codatdesk.importer import ensure_company
from codatdesk.sandbox import reference_data as sandbox_models
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import session_scope
from codatdesk.store.models import CreateModel
from tests.conftest import wait_until
from tests.engine_harness import expenses, row

# -- the length rules, as Codat writes them ---------------------------------------------------------

@pytest.mark.parametrize(("text", "bounds"), [
    ("Max length of 10 characters.", (None, 10)),  # Xero nominalCode, codat-docs push.md
    ("Must not exceed 255 characters.", (None, 255)),
    ("Maximum length is 4000 characters", (None, 4000)),
    ("Maximum 21 characters.", (None, 21)),
    ("Reference cannot exceed 45 characters", (None, 45)),
    ("Can be up to 100 characters long.", (None, 100)),
    ("Must be 50 characters or fewer.", (None, 50)),
    ("Must be no more than 31 characters in length", (None, 31)),
    ("max length of 10 chars", (None, 10)),
    ("Length must be between 1 and 30 characters.", (1, 30)),
    ("Must be at least 3 characters.", (3, None)),
    ("Must be exactly 3 characters.", (3, 3)),
    ("Must be a 3-letter ISO 4217 code.", None),  # a format, not a length
    ("Must match the ID of an existing account.", None),
    ("Must be unique.", None),
    ("At least one line is required.", None),
    ("", None),
])
def test_length_rules_are_read_leniently_from_real_looking_texts(text, bounds):
    assert parse_length(text) == bounds


XERO_ACCOUNT_MODEL = {
    "type": "Object", "displayName": "Nominal Account", "required": True,
    "properties": {
        "nominalCode": {"type": "String", "displayName": "Nominal Code", "description": "x", "required": True,
                        "validation": {"warnings": [{"field": "NominalCode", "details": "Max length of 10 characters."}],
                                       "information": []}},
        "name": {"type": "String", "displayName": "Name", "description": "x", "required": True,
                 "validation": {"warnings": [], "information": [{"field": "Name", "details": "Must not exceed 150 characters."}]}},
        "fullyQualifiedCategory": {"type": "String", "displayName": "Fully Qualified Category", "description": "x",
                                   "required": True, "options": [
                                       {"value": v, "type": "String", "displayName": v, "required": False}
                                       for v in ("Asset.Current", "Expense.DirectCosts", "Expense.Overhead")]},
    },
}


def models(account_model=XERO_ACCOUNT_MODEL, direct_costs=None) -> Models:
    by_type = {"chartOfAccounts": None if account_model is None else Rule.parse("chartOfAccounts", account_model)}
    if direct_costs is not None:
        by_type["directCosts"] = Rule.parse("directCosts", direct_costs)
    return Models("Xero", by_type)


def test_a_new_account_is_an_overhead_with_only_the_fields_the_model_knows():
    plan = account_body(models(), "486", "Software", "GBP")
    assert plan.problems == ()
    # currency, type, status, isBankAccount are not in this model: left out.
    assert plan.body == {"nominalCode": "486", "name": "Software", "fullyQualifiedCategory": "Expense.Overhead"}


def test_the_category_is_never_cost_of_sales_silently():
    only_cost_of_sales = json.loads(json.dumps(XERO_ACCOUNT_MODEL))
    only_cost_of_sales["properties"]["fullyQualifiedCategory"]["options"] = [
        {"value": "Expense.DirectCosts", "type": "String", "displayName": "Direct costs", "required": False}]
    plan = account_body(models(only_cost_of_sales), "486", "Software", "GBP")
    assert plan.body is None
    (reason,) = plan.problems
    assert "none of its account categories is an expense or overhead one" in reason
    assert "map 486 to an existing account in Mappings" in reason
    expense_expense = json.loads(json.dumps(XERO_ACCOUNT_MODEL))
    expense_expense["properties"]["fullyQualifiedCategory"]["options"].append(
        {"value": "Expense.Expense", "type": "String", "displayName": "Expense", "required": False})
    expense_expense["properties"]["fullyQualifiedCategory"]["options"] = [
        o for o in expense_expense["properties"]["fullyQualifiedCategory"]["options"] if o["value"] != "Expense.Overhead"]
    assert account_body(models(expense_expense), "486", "Software", "GBP").body["fullyQualifiedCategory"] == \
        "Expense.Expense"


def test_a_code_too_long_for_the_ledger_is_stopped_before_sending():
    plan = account_body(models(), "ACCT-000486", "Software", "GBP")
    assert plan.body is None
    assert plan.problems == (
        ("account ACCT-000486 cannot be created: the account code is 11 characters long; Xero takes at most 10: "
        "use a shorter account code, or map the code to an existing account in Mappings"),)


def test_a_ledger_that_cannot_create_accounts_or_a_model_not_read_blocks():
    assert "Codat cannot create accounts there" in account_body(models(None), "486", "S", "GBP").problems[0]
    assert "not read yet" in account_body(Models("Xero", {}), "486", "S", "GBP").problems[0]


def test_a_direct_cost_is_checked_for_required_fields_lengths_and_allowed_values():
    model = {"type": "Object", "displayName": "Direct Cost", "required": True, "properties": {
        "reference": {"type": "String", "displayName": "Reference", "description": "x", "required": False,
                      "validation": {"warnings": [], "information": [{"field": "Reference", "details": "Maximum 21 characters."}]}},
        "currency": {"type": "String", "displayName": "Currency", "description": "x", "required": True,
                     "options": [{"value": "GBP", "type": "String", "displayName": "GBP", "required": False}]},
        "dueDate": {"type": "DateTime", "displayName": "Due Date", "description": "x", "required": True},
        "lineItems": {"type": "Array", "displayName": "Lines", "description": "x", "required": True, "properties": {
            "description": {"type": "String", "displayName": "Description", "description": "x", "required": True,
                            "validation": {"warnings": [{"field": "LineItems.Description", "details": "Must not exceed 10 characters."}]}}}},
    }}
    body = {"reference": "R" * 22, "currency": "USD", "lineItems": [{"description": "Twelve chars"}]}
    problems = models(direct_costs=model).direct_cost_problems(body)
    assert problems == [
        "the reference is 22 characters long; Xero takes at most 21: shorten it (edit the expense)",
        "the currency 'USD' is not one Xero allows (GBP): edit the expense",
        ("Xero requires Due Date (dueDate), and this expense has none: codatdesk cannot send it yet; enter this one "
        "in the ledger yourself"),
        "the description is 12 characters long; Xero takes at most 10: shorten it (edit the expense)",
    ]
    assert all(isinstance(p, create_models.ModelProblem) for p in problems)


# -- the cache --------------------------------------------------------------------------------------

def test_models_are_fresh_for_a_day_and_per_connection(db):
    with session_scope(db) as session:
        ensure_company(session, "co", "Co")
        for data_type in create_models.MODEL_DATA_TYPES:
            session.add(CreateModel(company_id="co", connection_id="conn-1", data_type=data_type, model_json="{}",
                                    fetched_at=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)))
    with Session(db) as session:
        assert create_models.is_fresh(session, "co", "conn-1", now=dt.datetime(2026, 12, 1, 11, 59, tzinfo=dt.UTC))
        assert not create_models.is_fresh(session, "co", "conn-1", now=dt.datetime(2026, 12, 1, 12, 1, tzinfo=dt.UTC))
        assert not create_models.is_fresh(session, "co", "conn-2", now=dt.datetime(2026, 11, 30, 13, tzinfo=dt.UTC))


# -- end to end, against the sandbox ---------------------------------------------------------------

def test_the_reference_refresh_reads_and_stores_the_create_models(harness):
    core = harness.start_core()
    core.refresh_reference_data(harness.sandbox.company_id)
    with Session(core.db) as session:
        rows = {r.data_type: r for r in session.exec(select(CreateModel))}
    assert set(rows) == {"directCosts", "chartOfAccounts", "suppliers"}
    assert json.loads(rows["chartOfAccounts"].model_json)["properties"]["nominalCode"]["required"] is True
    assert json.loads(rows["suppliers"].model_json)["properties"]["supplierName"]["required"] is True


def test_an_expense_the_model_refuses_is_explained_and_not_sent(harness, monkeypatch):
    strict = sandbox_models.direct_cost_options()
    strict["properties"]["note"]["validation"] = {
        "warnings": [{"field": "Note", "details": "Must not exceed 20 characters."}], "information": []}
    monkeypatch.setattr(sandbox_models, "direct_cost_options", lambda: strict)
    core = harness.start_core()
    harness.import_rows([row(1, note=" for the quarterly offsite"), row(2)])
    core.refresh_reference_data(harness.sandbox.company_id)
    long_one, short_one = (e.id for e in expenses(core))
    problems = core.check_pushable([long_one, short_one])
    assert [(p.expense_id, p.reason) for p in problems] == [(long_one, (
        "the description is 35 characters long; Xero takes at most 20: shorten it (edit the expense)"))]
    batch = core.push([long_one, short_one])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: len(harness.sandbox.ledger()) == 1, 15, message="the short one is booked")
    assert [c["note"] for c in harness.sandbox.ledger()] == ["Expense 2"]
    first = expenses(core)[0]
    assert ExpenseStatus(first.status) is ExpenseStatus.NOT_PUSHED
    assert "at most 20: shorten it" in first.status_detail  # what `list` shows


def test_a_new_account_is_created_as_an_overhead_from_the_model(harness):
    core = harness.start_core()
    harness.import_rows([row(1, account="486", name="Software subscriptions")])
    batch = core.push([expenses(core)[0].id])
    assert batch.wait(20)
    wait_until(lambda: statuses_of(core) == [ExpenseStatus.COMPLETE], 20, message="account, then the expense")
    (created,) = [a for a in harness.sandbox.accounts() if a["nominalCode"] == "486"]
    assert created["fullyQualifiedCategory"] == "Expense.Overhead"


def test_an_account_code_too_long_for_the_ledger_is_not_sent(harness):
    core = harness.start_core()
    harness.import_rows([row(1, account="SOFTWARE-486", name="Software subscriptions")])
    core.refresh_reference_data(harness.sandbox.company_id)
    (problem,) = core.check_pushable([expenses(core)[0].id])
    assert "account SOFTWARE-486 cannot be created: the account code is 12 characters long" in problem.reason
    batch = core.push([expenses(core)[0].id])
    assert batch.wait(20) and batch.sent == 0 and not harness.sandbox.push_operations
    assert "at most 10" in expenses(core)[0].status_detail


def statuses_of(core) -> list:
    return [ExpenseStatus(e.status) for e in expenses(core)]


def test_a_database_whose_models_were_never_read_still_creates_accounts(harness):
    """After upgrading from 0004 the lists are cached but no model is: the batch reads the models
    before planning instead of blocking the account's expenses as "model not read"."""
    core = harness.start_core()
    harness.import_rows([row(1, account="486", name="Software subscriptions")])
    core.refresh_reference_data(harness.sandbox.company_id)
    with session_scope(core.db) as session:
        for model in session.exec(select(CreateModel)):
            session.delete(model)
    assert core.check_pushable([expenses(core)[0].id]) == []
    batch = core.push([expenses(core)[0].id])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: statuses_of(core) == [ExpenseStatus.COMPLETE], 20, message="account, then the expense")


def test_a_three_level_ledger_gets_its_general_expense_category_never_a_specific_or_cost_of_sales_one():
    """QuickBooks Online's categories go a level deeper (oas QBO chartOfAccounts model)."""
    qbo = json.loads(json.dumps(XERO_ACCOUNT_MODEL))
    qbo["properties"]["fullyQualifiedCategory"]["options"] = [
        {"value": v, "type": "String", "displayName": v, "required": False}
        for v in ("Expense.Cost of Goods Sold.CostOfSales", "Expense.Expense.Travel",
                  "Expense.Expense.OfficeGeneralAdministrativeExpenses", "Expense.Expense.OtherBusinessExpenses")]
    plan = account_body(models(qbo), "486", "Software", "GBP")
    assert plan.problems == () and plan.body["fullyQualifiedCategory"] == "Expense.Expense.OtherBusinessExpenses"
    qbo["properties"]["fullyQualifiedCategory"]["options"] = qbo["properties"]["fullyQualifiedCategory"]["options"][:2]
    assert account_body(models(qbo), "486", "Software", "GBP").body is None  # Travel or cost of sales: held back
