"""The sandbox's Sync for Expenses API: every body checked against Codat-Sync-Expenses.json, one test per rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk import integrations
from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.openapi_schemas import validate, webhook_schema
from tests.sandbox_support import Receiver, client_for

EXPENSES = "Codat-Sync-Expenses.json"
BASE = "/companies/{}/sync/expenses"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def body_of(response: httpx.Response, schema: str, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, EXPENSES, schema, strict=True)
    return body


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    body = body_of(response, "ErrorMessage", status)
    assert body["statusCode"] == status
    return body


def codes(sb: Sandbox, company_id: str) -> dict[str, str]:
    """nominalCode -> account id in that company's ledger."""
    return {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}


def supplier_id(sb: Sandbox, company_id: str | None = None, name: str = "Acme Office Supplies") -> str:
    return next(s["id"] for s in sb.suppliers(company_id) if s["supplierName"] == name)


def expense(sb: Sandbox, company_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid Payment: 10.00 net + 2.00 VAT on General Expenses, paid from the business bank account."""
    ids = {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()), "type": "Payment", "issueDate": "2024-05-21T00:00:00+00:00", "currency": "GBP",
        "contactRef": {"id": supplier_id(sb, company_id), "type": "Supplier"},
        "bankAccountRef": {"id": ids["090"]}, "merchantName": "Acme", "notes": "Paper",
        "lines": [{"netAmount": 10, "taxAmount": 2, "taxRateRef": {"id": "INPUT2"}, "accountRef": {"id": ids["429"]},
                   "trackingRefs": [{"id": "DEPARTMENT_1", "dataType": "trackingCategories"}]}],
    }
    body.update(overrides)
    return body


def claim(sb: Sandbox, company_id: str, **overrides: Any) -> dict[str, Any]:
    ids = {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()), "reference": "CLAIM-1", "contactRef": {"id": supplier_id(sb, company_id, "Uber")},
        "issueDate": "2024-05-21T00:00:00", "dueDate": "2024-06-21T00:00:00", "currency": "GBP",
        "lines": [{"description": "Taxi", "netAmount": 20, "taxAmount": 4, "taxRateRef": {"id": "INPUT2"},
                   "accountRef": {"id": ids["493"]}}],
    }
    body.update(overrides)
    return body


def send(client: httpx.Client, company_id: str, transactions: list[dict[str, Any]],
         kind: str = "expense-transactions") -> str:
    response = client.post(BASE.format(company_id) + "/" + kind, json=transactions)
    validate(transactions, EXPENSES, "CreateExpenseRequest" if kind == "expense-transactions"
             else "ReimbursableExpenseTransactionRequest", strict=True)
    schema = "CreateExpenseResponse" if kind == "expense-transactions" else "CreateReimbursableExpenseResponse"
    return body_of(response, schema)["syncId"]


def finished(sb: Sandbox, client: httpx.Client, company_id: str, sync_id: str) -> dict[str, Any]:
    assert sb.wait_idle(10)
    return body_of(client.get(BASE.format(company_id) + f"/syncs/{sync_id}/status"), "CompanySyncStatus")


def items(client: httpx.Client, company_id: str, sync_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(BASE.format(company_id) + f"/syncs/{sync_id}/transactions")
    assert response.status_code == 200, response.text
    body = response.json()
    # Codat's Transactions schema puts additionalProperties: false beside its allOf, so no page (not even
    # its own example) passes it: check the parts instead.
    validate(body, EXPENSES, "PagingInfo")
    for item in body["results"]:
        validate(item, EXPENSES, "Transaction", strict=True)
    return {item["transactionId"]: item for item in body["results"]}


def ready(sb: Sandbox, client: httpx.Client, platform: str = integrations.XERO, *, config: bool = True) -> str:
    """A company with a Linked ledger, the partner expense connection and (optionally) a configuration."""
    company_id, _ = sb.add_company(f"Expenses {platform}", platform)
    connection = body_of(client.post(BASE.format(company_id) + "/connections/partnerExpense"), "Connection")
    assert connection["status"] == "Linked" and connection["sourceType"] == "Expense"
    if config:
        ids = {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}
        customer = sb.expenses.ledger(company_id).customers
        body = {"bankAccount": {"id": ids["090"]}, "supplier": {"id": supplier_id(sb, company_id)},
                "customer": {"id": next(iter(customer))}}
        validate(body, EXPENSES, "CompanyConfiguration", strict=True)
        body_of(client.post(BASE.format(company_id) + "/config", json=body), "CompanyConfiguration")
    return company_id


# -- connection, configuration, mapping options ---------------------------------------------------

def test_partner_expense_connection_is_linked_and_created_once(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, config=False)
    again = body_of(client.post(BASE.format(company_id) + "/connections/partnerExpense"), "Connection")
    expense_connections = [c for c in sb.state.company_json(company_id)["dataConnections"] if c["sourceType"] == "Expense"]
    assert [c["id"] for c in expense_connections] == [again["id"]]


def test_config_requires_all_three_objects_and_known_ids(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, config=False)
    url = BASE.format(company_id) + "/config"
    error_of(client.post(url, json={"bankAccount": {"id": "x"}, "supplier": {}}), 400)
    error_of(client.post(url, json={"bankAccount": {"id": "nope"}, "supplier": {}, "customer": {}}), 400)
    error_of(client.post(url, json={"bankAccount": {"id": codes(sb, company_id)["429"]}, "supplier": {}, "customer": {}}), 400)
    body_of(client.get(url), "CompanyConfiguration")


def test_mapping_options_list_accounts_tax_rates_and_tracking_with_valid_types(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    options = body_of(client.get(BASE.format(company_id) + "/mappingOptions"), "MappingOptions")
    by_code = {a["nominalCode"]: a for a in options["accounts"]}
    assert "expense-transactions.Refund" in by_code["429"]["validFor"]
    assert by_code["429"]["validTransactionTypes"] == ["Payment", "Refund", "Reward", "Chargeback"]
    assert by_code["200"]["validTransactionTypes"] == ["Reward"]
    assert by_code["090"]["validTransactionTypes"] == [] and by_code["090"]["isBankAccount"]
    rates = {t["id"]: t for t in options["taxRates"]}
    assert "Reward" not in rates["INPUT2"]["validTransactionTypes"] and "Reward" in rates["NONE"]["validTransactionTypes"]
    tracking = {t["id"]: t for t in options["trackingCategories"]}
    assert tracking["DEPARTMENTS"]["hasChildren"] and tracking["PROJECT_1"]["parentId"] == "PROJECTS"


def test_tracking_categories_are_in_the_accounting_reads(sb: Sandbox, client: httpx.Client) -> None:
    page = client.get(f"/companies/{sb.company_id}/data/trackingCategories")
    assert page.status_code == 200
    validate(page.json(), "Codat-Accounting-2023.json", "TrackingCategories", strict=True)
    one = client.get(f"/companies/{sb.company_id}/data/trackingCategories/DEPARTMENT_2")
    validate(one.json(), "Codat-Accounting-2023.json", "TrackingCategory", strict=True)
    assert one.json()["name"] == "Engineering"


# -- writing transactions ---------------------------------------------------------------------------

def test_payment_is_written_and_booked_and_the_sync_succeeds(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    sync_id = send(client, company_id, [transaction])
    status = finished(sb, client, company_id, sync_id)
    assert (status["syncStatusCode"], status["syncStatus"], status["dataPushed"]) == (2000, "Complete", True)
    assert items(client, company_id, sync_id)[transaction["id"]]["status"] == "Completed"
    (booked,) = sb.expenses.bookings(company_id)
    assert booked["recordType"] == "spend money" and booked["totalAmount"] == Decimal("12")
    assert booked["lines"][0]["trackingIds"] == ["DEPARTMENT_1"]
    one = body_of(client.get(BASE.format(company_id) + f"/syncs/{sync_id}/transactions/{transaction['id']}"),
                  "TransactionResponse")
    assert one[0]["status"] == "Completed"


@pytest.mark.parametrize("kind", ["Refund", "Chargeback", "Reward"])
def test_refunds_chargebacks_and_rewards_are_types_that_bring_money_in(sb: Sandbox, client: httpx.Client,
                                                                       kind: str) -> None:
    company_id = ready(sb, client)
    lines = [{"netAmount": 5, "taxAmount": 0, "taxRateRef": {"id": "NONE"}, "accountRef": {"id": codes(sb, company_id)["429"]}}]
    sync_id = send(client, company_id, [expense(sb, company_id, type=kind, lines=lines)])
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 2000
    assert sb.expenses.bookings(company_id)[0]["recordType"] == "receive money"


def test_negative_amounts_are_refused(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    transaction["lines"][0].update(netAmount=-10, taxAmount=-2)
    sync_id = send(client, company_id, [transaction])
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 5120
    item = items(client, company_id, sync_id)[transaction["id"]]
    assert item["status"] == "ValidationError" and "Refund type instead of a negative amount" in item["message"]


def one_failure(sb: Sandbox, client: httpx.Client, company_id: str, transaction: dict[str, Any]) -> str:
    response = client.post(BASE.format(company_id) + "/expense-transactions", json=[transaction])
    sync_id = body_of(response, "CreateExpenseResponse")["syncId"]
    status = finished(sb, client, company_id, sync_id)
    assert (status["syncStatusCode"], status["syncStatus"]) == (5120, "PushError")
    item = items(client, company_id, sync_id)[transaction["id"]]
    assert item["status"] == "ValidationError"
    assert sb.expenses.bookings(company_id) == []
    return item["message"]


def test_account_must_be_valid_for_the_transaction_type(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    transaction["lines"][0]["accountRef"] = {"id": codes(sb, company_id)["200"]}  # Sales: rewards only
    assert "not valid for expense-transactions.Payment" in one_failure(sb, client, company_id, transaction)


def test_tax_rate_must_exist_and_be_valid_for_the_type(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    transaction["lines"][0]["taxRateRef"] = {"id": "NOPE"}
    assert "no tax rate was found" in one_failure(sb, client, company_id, transaction)
    reward = expense(sb, company_id, type="Reward")
    assert "not valid for Reward" in one_failure(sb, client, company_id, reward)


def test_tax_amount_must_match_the_rate(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    transaction["lines"][0]["taxAmount"] = 3
    assert "does not match" in one_failure(sb, client, company_id, transaction)


def test_tracking_categories_must_exist_and_be_leaves(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    transaction["lines"][0]["trackingRefs"] = [{"id": "DEPARTMENT_9"}]
    assert "no tracking category" in one_failure(sb, client, company_id, transaction)
    parent = expense(sb, company_id)
    parent["lines"][0]["trackingRefs"] = [{"id": "DEPARTMENTS"}]
    assert "has sub-categories" in one_failure(sb, client, company_id, parent)


def test_required_fields_are_checked_per_transaction(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id, issueDate="yesterday", currency="pounds", lines=[])
    message = one_failure(sb, client, company_id, transaction)
    assert "IssueDate" in message and "Currency" in message and "At least one line" in message


def test_without_bank_or_supplier_on_the_transaction_or_in_config_the_expense_fails(sb: Sandbox,
                                                                                   client: httpx.Client) -> None:
    company_id = ready(sb, client, config=False)
    transaction = expense(sb, company_id)
    del transaction["bankAccountRef"], transaction["contactRef"]
    message = one_failure(sb, client, company_id, transaction)
    assert "No bank account" in message and "No supplier" in message


def test_config_defaults_fill_in_bank_and_supplier(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    del transaction["bankAccountRef"], transaction["contactRef"]
    sync_id = send(client, company_id, [transaction])
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 2000
    booked = sb.expenses.bookings(company_id)[0]
    assert booked["bankAccountId"] == {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}["090"]
    assert booked["contactId"] == supplier_id(sb, company_id)


def test_supplier_currency_must_match(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, integrations.QUICKBOOKS_ONLINE)
    transaction = expense(sb, company_id, currency="EUR", currencyRate=0.85)
    assert "supplier's currency GBP" in one_failure(sb, client, company_id, transaction)


def test_xero_refuses_a_foreign_currency_without_rate(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id, currency="EUR")
    assert "CurrencyRate must be provided" in one_failure(sb, client, company_id, transaction)


def test_one_failed_item_fails_the_whole_sync_and_only_that_item(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    good, bad = expense(sb, company_id), expense(sb, company_id, type="Gift")
    response = client.post(BASE.format(company_id) + "/expense-transactions", json=[good, bad])
    sync_id = body_of(response, "CreateExpenseResponse")["syncId"]
    status = finished(sb, client, company_id, sync_id)
    assert status["syncStatusCode"] == 5120 and status["dataPushed"]
    states = {k: v["status"] for k, v in items(client, company_id, sync_id).items()}
    assert states == {good["id"]: "Completed", bad["id"]: "ValidationError"}
    latest = body_of(client.get(BASE.format(company_id) + "/syncs/latest/status"), "CompanySyncStatus")
    assert latest["syncId"] == sync_id
    error_of(client.get(BASE.format(company_id) + "/syncs/lastSuccessful/status"), 404)


def test_a_completed_id_sent_again_is_duplication_protection(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    first = send(client, company_id, [transaction])
    finished(sb, client, company_id, first)
    second = send(client, company_id, [transaction])
    status = finished(sb, client, company_id, second)
    assert (status["syncStatusCode"], status["dataPushed"]) == (5080, False)
    item = items(client, company_id, second)[transaction["id"]]
    assert item["status"] == "PushError" and item["message"].startswith("Duplication protection")
    assert len(sb.expenses.bookings(company_id)) == 1
    statuses = client.get(BASE.format(company_id) + "/syncs/list/status").json()
    validate(statuses, EXPENSES, "#/paths/~1companies~1{companyId}~1sync~1expenses~1syncs~1list~1status/get/"
             "responses/200/content/application~1json/schema", strict=True)
    assert [s["syncId"] for s in statuses] == [first, second]
    last_ok = body_of(client.get(BASE.format(company_id) + "/syncs/lastSuccessful/status"), "CompanySyncStatus")
    assert last_ok["syncId"] == first


def test_a_failed_id_may_be_sent_again(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id, currency="EUR")
    one_failure(sb, client, company_id, transaction)
    sync_id = send(client, company_id, [{**transaction, "currency": "GBP"}])
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 2000


@pytest.mark.parametrize("body", [{}, [], "x", [{"id": "not-a-uuid"}]])
def test_request_shape_is_checked_at_once(sb: Sandbox, client: httpx.Client, body: Any) -> None:
    company_id = ready(sb, client)
    error_of(client.post(BASE.format(company_id) + "/expense-transactions", json=body), 400)


def test_more_than_fifty_transactions_or_a_repeated_id_is_a_bad_request(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    url = BASE.format(company_id) + "/expense-transactions"
    error_of(client.post(url, json=[expense(sb, company_id) for _ in range(51)]), 400)
    transaction = expense(sb, company_id)
    error_of(client.post(url, json=[transaction, transaction]), 400)


def test_without_partner_connection_the_sync_is_a_configuration_error(sb: Sandbox, client: httpx.Client) -> None:
    company_id, _ = sb.add_company("No partner", integrations.XERO)
    sync_id = send(client, company_id, [expense(sb, company_id)])
    status = finished(sb, client, company_id, sync_id)
    assert status["syncStatusCode"] == 4000 and sb.expenses.bookings(company_id) == []


# -- updates ------------------------------------------------------------------------------------------

def test_update_rewrites_a_completed_payment(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    transaction = expense(sb, company_id)
    finished(sb, client, company_id, send(client, company_id, [transaction]))
    change = {k: v for k, v in transaction.items() if k != "id"}
    change["lines"] = [{**transaction["lines"][0], "netAmount": 20, "taxAmount": 4}]
    validate(change, EXPENSES, "UpdateExpenseRequest", strict=True)
    response = client.put(BASE.format(company_id) + f"/expense-transactions/{transaction['id']}", json=change)
    sync_id = body_of(response, "UpdateExpenseResponse", 202)["syncId"]
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 2000
    (booked,) = sb.expenses.bookings(company_id)
    assert booked["totalAmount"] == Decimal("24") and booked["updates"] == 1


def test_update_of_a_refund_is_422_with_codats_error_body(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    lines = [{"netAmount": 5, "taxAmount": 1, "taxRateRef": {"id": "INPUT2"}, "accountRef": {"id": codes(sb, company_id)["429"]}}]
    refund = expense(sb, company_id, type="Refund", lines=lines)
    finished(sb, client, company_id, send(client, company_id, [refund]))
    change = {k: v for k, v in refund.items() if k != "id"}
    body = error_of(client.put(BASE.format(company_id) + f"/expense-transactions/{refund['id']}", json=change), 422)
    assert body["service"] == "ExpenseSyncApi" and "Payment" in body["error"]
    error_of(client.put(BASE.format(company_id) + f"/expense-transactions/{uuid.uuid4()}", json=change), 404)


# -- reimbursable expenses ---------------------------------------------------------------------------

def test_reimbursable_expense_is_a_bill_to_the_employee(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, integrations.QUICKBOOKS_ONLINE)
    transaction = claim(sb, company_id)
    sync_id = send(client, company_id, [transaction], "reimbursable-expense-transactions")
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 2000
    (booked,) = sb.expenses.bookings(company_id)
    assert (booked["recordType"], booked["contactId"], booked["bankAccountId"]) == (
        "bill", supplier_id(sb, company_id, "Uber"), None)


def test_reimbursable_employee_must_be_a_supplier(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, integrations.QUICKBOOKS_DESKTOP)
    transaction = claim(sb, company_id, contactRef={"id": "ghost"})
    sync_id = send(client, company_id, [transaction], "reimbursable-expense-transactions")
    assert finished(sb, client, company_id, sync_id)["syncStatusCode"] == 5120
    assert "employee must exist as a supplier" in items(client, company_id, sync_id)[transaction["id"]]["message"]


def test_xero_does_not_take_reimbursable_expenses(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    response = client.post(BASE.format(company_id) + "/reimbursable-expense-transactions", json=[claim(sb, company_id)])
    assert "not supported for Xero" in error_of(response, 422)["error"]


# -- attachments --------------------------------------------------------------------------------------

def upload(client: httpx.Client, company_id: str, sync_id: str, transaction_id: str, name: str,
           content: bytes) -> httpx.Response:
    return client.post(BASE.format(company_id) + f"/syncs/{sync_id}/transactions/{transaction_id}/attachments",
                       files={"file": (name, content, "application/octet-stream")})


def written(sb: Sandbox, client: httpx.Client, platform: str) -> tuple[str, str, str]:
    company_id = ready(sb, client, platform)
    transaction = expense(sb, company_id)
    sync_id = send(client, company_id, [transaction])
    finished(sb, client, company_id, sync_id)
    return company_id, sync_id, transaction["id"]


def test_receipt_upload_after_completed(sb: Sandbox, client: httpx.Client) -> None:
    company_id, sync_id, transaction_id = written(sb, client, integrations.XERO)
    body = body_of(upload(client, company_id, sync_id, transaction_id, "receipt.pdf", b"%PDF-1.4"), "Attachment")
    assert body["transactionId"] == transaction_id
    assert sb.expenses.bookings(company_id)[0]["attachments"][0]["fileName"] == "receipt.pdf"


def test_receipt_upload_before_completed_is_refused(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client)
    sb.config.push_delay = 5
    transaction = expense(sb, company_id)
    sync_id = send(client, company_id, [transaction])
    assert "once it is Completed" in error_of(upload(client, company_id, sync_id, transaction["id"], "r.pdf", b"x"),
                                              400)["error"]
    sb.config.push_delay = 0.02


def test_xero_receipt_limit_is_the_stricter_3_mb_and_types_are_checked(sb: Sandbox, client: httpx.Client) -> None:
    company_id, sync_id, transaction_id = written(sb, client, integrations.XERO)
    too_big = b"x" * (3 * 1024 * 1024 + 1)
    assert "at most 3 MB" in error_of(upload(client, company_id, sync_id, transaction_id, "r.pdf", too_big), 400)["error"]
    assert "does not accept .heic" in error_of(upload(client, company_id, sync_id, transaction_id, "r.heic", b"x"),
                                               400)["error"]


def test_quickbooks_desktop_takes_no_attachments(sb: Sandbox, client: httpx.Client) -> None:
    company_id, sync_id, transaction_id = written(sb, client, integrations.QUICKBOOKS_DESKTOP)
    body = error_of(upload(client, company_id, sync_id, transaction_id, "r.pdf", b"%PDF"), 422)
    assert "QuickBooks Desktop does not support attachment upload" in body["error"]


def test_quickbooks_online_takes_no_attachment_on_a_reward(sb: Sandbox, client: httpx.Client) -> None:
    company_id = ready(sb, client, integrations.QUICKBOOKS_ONLINE)
    lines = [{"netAmount": 5, "taxAmount": 0, "taxRateRef": {"id": "NONE"}, "accountRef": {"id": codes(sb, company_id)["429"]}}]
    reward = expense(sb, company_id, type="Reward", lines=lines)
    sync_id = send(client, company_id, [reward])
    finished(sb, client, company_id, sync_id)
    assert "expense-transactions.Reward" in error_of(upload(client, company_id, sync_id, reward["id"], "r.pdf", b"x"),
                                                     422)["error"]


def test_upload_without_a_file_part_is_a_bad_request(sb: Sandbox, client: httpx.Client) -> None:
    company_id, sync_id, transaction_id = written(sb, client, integrations.XERO)
    response = client.post(BASE.format(company_id) + f"/syncs/{sync_id}/transactions/{transaction_id}/attachments",
                           files={"other": ("r.pdf", b"x")})
    error_of(response, 400)


# -- webhooks -----------------------------------------------------------------------------------------

def test_sync_webhooks_are_signed_and_conform(sb: Sandbox, client: httpx.Client) -> None:
    from standardwebhooks import Webhook

    receiver = Receiver()
    try:
        consumer = sb.add_webhook_consumer(receiver.url(), ["expenses.sync.successful", "expenses.sync.unsuccessful"])
        company_id = ready(sb, client)
        good = expense(sb, company_id)
        finished(sb, client, company_id, send(client, company_id, [good]))
        finished(sb, client, company_id, send(client, company_id, [good]))  # duplicate: unsuccessful
        events = {}
        for received in receiver.wait_for(2):
            event = Webhook(consumer["secret"]).verify(received.body, received.headers)
            validate(event, "Codat-Webhooks.json", webhook_schema(event["eventType"]), strict=True)
            events[event["eventType"]] = event
    finally:
        sb.shutdown()
        receiver.stop()
    assert events["expenses.sync.successful"]["payload"]["transactions"] == [
        {"id": good["id"], "status": "Completed", "errorMessage": None}]
    failed = events["expenses.sync.unsuccessful"]["payload"]["transactions"][0]
    assert failed["status"] == "PushError" and failed["errorMessage"].startswith("Duplication protection")




# -- direct-cost receipts (the direct-cost route; sandbox/attachments.py) -------------------------------

def test_direct_cost_receipt_upload_uses_the_integrations_limits(sb: Sandbox, client: httpx.Client) -> None:
    from codatdesk.sandbox.attachments import store_of
    from tests.sandbox_support import direct_cost

    pushed = client.post(f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/directCosts",
                         json=direct_cost(sb))
    assert pushed.status_code == 200 and sb.wait_idle(10)
    cost_id = sb.ledger()[0]["id"]
    url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/directCosts/{cost_id}/attachment"
    assert client.post(url, files={"file": ("receipt.png", b"\x89PNG", "image/png")}).status_code == 200
    assert [a["name"] for a in store_of(sb).of(sb.company_id)] == ["receipt.png"]
    assert "limit of 3 MB" in error_of(client.post(url, files={"file": ("r.pdf", b"x" * (3 * 1024 * 1024 + 1))}),
                                       400)["error"]
    error_of(client.post(url.replace(cost_id, "nope"), files={"file": ("r.pdf", b"x")}), 404)
