"""The sandbox's Codat endpoints through the in-process transport; every body checked against the specs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.openapi_schemas import validate
from tests.sandbox_support import account_ids, auth_header, client_for, direct_cost, wait_until

PLATFORM = "Codat-Platform.json"
ACCOUNTING = "Codat-Accounting-2023.json"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.05))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def body_of(response: httpx.Response, spec: str, schema: str, status: int = 200) -> Any:
    """Assert the status, the rate-limit headers and strict conformance; return the JSON body."""
    assert response.status_code == status, response.text
    for header in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert header in response.headers
    body = response.json()
    validate(body, spec, schema, strict=True)
    return body


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    body = body_of(response, PLATFORM, "ErrorMessage", status)
    assert body["statusCode"] == status and body["canBeRetried"] == "Unknown" and body["correlationId"]
    return body


def push_url(sb: Sandbox, data_type: str = "directCosts") -> str:
    return f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/{data_type}"


def push_and_finish(sb: Sandbox, client: httpx.Client, body: Any, data_type: str = "directCosts",
                    **params: Any) -> dict[str, Any]:
    response = client.post(push_url(sb, data_type), json=body, params=params)
    pending = body_of(response, PLATFORM, "PushOperation")
    assert pending["status"] == "Pending" and pending["statusCode"] == 202 and "completedOnUtc" not in pending
    assert sb.wait_idle(5)
    final = client.get(f"/companies/{sb.company_id}/push/{pending['pushOperationKey']}")
    return body_of(final, PLATFORM, "PushOperation")


# -- auth, errors, headers ------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer x", "Basic", "Basic not-base64!", "Basic {raw}", "Basic {wrong}"])
def test_codat_paths_require_basic_base64_api_key(sb: Sandbox, header: str | None) -> None:
    import base64

    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(raw=sb.api_key, wrong=base64.b64encode(b"nope").decode())
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox", headers=headers) as anonymous:
        body = error_of(anonymous.get("/companies"), 401)
    assert body["error"] == "Unauthorized"


def test_unknown_path_and_method_use_codat_error_body(client: httpx.Client) -> None:
    error_of(client.get("/no/such/path"), 404)
    assert client.delete("/companies").status_code == 405


def test_seed_makes_ids_reproducible() -> None:
    first, second, other = Sandbox(SandboxConfig(seed=7)), Sandbox(SandboxConfig(seed=7)), Sandbox(SandboxConfig(seed=8))
    try:
        assert (first.api_key, first.company_id, first.connection_id) == (second.api_key, second.company_id, second.connection_id)
        assert first.company_id != other.company_id and first.api_key != other.api_key
    finally:
        for sandbox in (first, second, other):
            sandbox.shutdown()


# -- companies and connections ----------------------------------------------------------------

def test_companies_list_create_get_and_paging(sb: Sandbox, client: httpx.Client) -> None:
    listed = body_of(client.get("/companies"), PLATFORM, "Companies")
    assert [c["id"] for c in listed["results"]] == [sb.company_id]
    demo = listed["results"][0]
    assert demo["dataConnections"][0]["status"] == "Linked"

    created = [body_of(client.post("/companies", json={"name": f"Shop {n}", "tags": {"ws": str(n)}}), PLATFORM, "Company")
               for n in range(3)]
    assert created[0]["redirect"] == f"https://link.codat.io/company/{created[0]['id']}"
    assert body_of(client.get(f"/companies/{created[1]['id']}"), PLATFORM, "Company")["name"] == "Shop 1"

    first = body_of(client.get("/companies", params={"pageSize": 2, "orderBy": "-name"}), PLATFORM, "Companies")
    assert first["totalResults"] == 4 and first["pageSize"] == 2 and first["pageNumber"] == 1
    assert [c["name"] for c in first["results"]] == ["Shop 2", "Shop 1"]
    assert "next" in first["_links"] and "previous" not in first["_links"]
    second = body_of(client.get(first["_links"]["next"]["href"]), PLATFORM, "Companies")
    assert [c["name"] for c in second["results"]] == ["Shop 0", "Demo Trading Ltd"]
    assert "previous" in second["_links"] and "next" not in second["_links"]

    queried = body_of(client.get("/companies", params={"query": 'name="Shop 1"'}), PLATFORM, "Companies")
    assert [c["id"] for c in queried["results"]] == [created[1]["id"]]


def test_company_errors(client: httpx.Client) -> None:
    error_of(client.get("/companies/0b9f6d3c-5a5e-4e2a-9d8f-5a7e2c1b0a99"), 404)
    assert error_of(client.post("/companies", json={"description": "no name"}), 400)["validation"]["errors"]
    error_of(client.post("/companies", content=b"{not json"), 400)
    error_of(client.get("/companies", params={"page": 0}), 400)


def test_connections_get_patch_unlink(sb: Sandbox, client: httpx.Client) -> None:
    base = f"/companies/{sb.company_id}/connections"
    listed = body_of(client.get(base), PLATFORM, "Connections")
    connection = listed["results"][0]
    assert connection["id"] == sb.connection_id
    assert connection["sourceType"] == "Accounting" and connection["platformName"] == "Xero"
    assert connection["integrationKey"] == "gbol" and connection["linkUrl"].endswith(f"/connections/{sb.connection_id}/start")
    assert connection["dataConnectionErrors"] == []

    error_of(client.patch(f"{base}/{sb.connection_id}", json={"status": "Linked"}), 400)
    unlinked = body_of(client.patch(f"{base}/{sb.connection_id}", json={"status": "Unlinked"}), PLATFORM, "Connection")
    assert unlinked["status"] == "Unlinked"
    assert body_of(client.get(f"{base}/{sb.connection_id}"), PLATFORM, "Connection")["status"] == "Unlinked"
    error_of(client.get(f"{base}/5b7f5d3c-5a5e-4e2a-9d8f-5a7e2c1b0a99"), 404)


def test_new_connection_is_pending_auth(sb: Sandbox, client: httpx.Client) -> None:
    created = body_of(client.post(f"/companies/{sb.company_id}/connections", json={"platformKey": "gbol"}),
                      PLATFORM, "Connection")
    assert created["status"] == "PendingAuth"
    error_of(client.post(f"/companies/{sb.company_id}/connections", json={"platformKey": "zzzz"}), 404)


@pytest.mark.parametrize("status", ["Deauthorized", "Unlinked", "PendingAuth"])
def test_push_to_a_connection_that_is_not_linked_is_400(sb: Sandbox, client: httpx.Client, status: str) -> None:
    sb.set_connection_status(sb.company_id, sb.connection_id, status)
    body = error_of(client.post(push_url(sb), json=direct_cost(sb)), 400)
    assert status in body["error"]
    assert sb.push_operations == {}


def test_push_to_unknown_company_or_connection_is_404(sb: Sandbox, client: httpx.Client) -> None:
    unknown = "0b9f6d3c-5a5e-4e2a-9d8f-5a7e2c1b0a99"
    error_of(client.post(f"/companies/{unknown}/connections/{sb.connection_id}/push/directCosts", json={}), 404)
    body = error_of(client.post(f"/companies/{sb.company_id}/connections/{unknown}/push/directCosts", json={}), 404)
    assert body["error"] == f"Data connection {unknown} not found"


# -- reference data -----------------------------------------------------------------------------

def test_chart_of_accounts(sb: Sandbox, client: httpx.Client) -> None:
    accounts = body_of(client.get(f"/companies/{sb.company_id}/data/accounts"), ACCOUNTING, "Accounts")["results"]
    by_code = {a["nominalCode"]: a for a in accounts}
    assert by_code["400"]["name"] == "Advertising" and by_code["429"]["name"] == "General Expenses"
    assert by_code["493"]["name"] == "Travel" and by_code["400"]["type"] == "Expense"
    assert by_code["090"]["name"] == "Business Bank Account" and by_code["090"]["isBankAccount"] is True
    one = body_of(client.get(f"/companies/{sb.company_id}/data/accounts/{by_code['493']['id']}"), ACCOUNTING, "Account")
    assert one == by_code["493"]
    error_of(client.get(f"/companies/{sb.company_id}/data/accounts/nope"), 404)


def test_query_language_and_order(sb: Sandbox, client: httpx.Client) -> None:
    url = f"/companies/{sb.company_id}/data/accounts"

    def codes(**params: Any) -> list[str]:
        page = body_of(client.get(url, params=params), ACCOUNTING, "Accounts")
        return [a["nominalCode"] for a in page["results"]]

    assert codes(query="nominalCode=400") == ["400"]
    assert codes(query="isBankAccount=true") == ["090", "091"]
    assert codes(query="type=Expense && name~travel") == ["493"]
    assert codes(query="nominalCode=400 || nominalCode=493") == ["400", "493"]
    assert codes(query="nominalCode>=800") == ["800"]
    assert codes(query="metadata.isDeleted=false", orderBy="-nominalCode")[:2] == ["800", "493"]
    assert error_of(client.get(url, params={"query": "colour=red"}), 400)["service"] == "ClientsApi"
    error_of(client.get(url, params={"query": "nominalCode"}), 400)
    error_of(client.get(url, params={"orderBy": "colour"}), 400)


def test_suppliers_tax_rates_and_bank_accounts(sb: Sandbox, client: httpx.Client) -> None:
    suppliers = body_of(client.get(f"/companies/{sb.company_id}/data/suppliers"), ACCOUNTING, "Suppliers")["results"]
    assert len(suppliers) == 17 and all(s["status"] == "Active" for s in suppliers)
    body_of(client.get(f"/companies/{sb.company_id}/data/suppliers/{suppliers[0]['id']}"), ACCOUNTING, "Supplier")
    tax_rates = body_of(client.get(f"/companies/{sb.company_id}/data/taxRates"), ACCOUNTING, "TaxRates")["results"]
    assert {t["code"]: t["effectiveTaxRate"] for t in tax_rates}["INPUT2"] == 20
    body_of(client.get(f"/companies/{sb.company_id}/data/taxRates/INPUT2"), ACCOUNTING, "TaxRate")
    bank_url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/data/bankAccounts"
    banks = body_of(client.get(bank_url), ACCOUNTING, "BankAccounts")["results"]
    assert {b["nominalCode"]: b["accountType"] for b in banks} == {"090": "Debit", "091": "Credit"}
    assert {b["id"] for b in banks} == {account_ids(sb)["090"], account_ids(sb)["091"]}
    body_of(client.get(f"{bank_url}/{banks[0]['id']}"), ACCOUNTING, "BankAccount")


@pytest.mark.parametrize("data_type", ["directCosts", "chartOfAccounts"])
def test_push_options(sb: Sandbox, client: httpx.Client, data_type: str) -> None:
    url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/options/{data_type}"
    model = body_of(client.get(url), PLATFORM, "PushOption")
    validate(model, ACCOUNTING, "PushOption", strict=True)
    assert model["type"] == "Object" and model["required"] is True
    if data_type == "directCosts":
        assert model["properties"]["lineItems"]["properties"]["accountRef"]["required"] is True
    else:
        values = [o["value"] for o in model["properties"]["fullyQualifiedCategory"]["options"]]
        assert "Expense.Overhead" in values


def test_push_options_for_unsupported_type_is_404(sb: Sandbox, client: httpx.Client) -> None:
    error_of(client.get(f"/companies/{sb.company_id}/connections/{sb.connection_id}/options/invoices"), 404)


# -- pushing directCosts -------------------------------------------------------------------------

def test_direct_cost_push_succeeds_and_lands_in_the_ledger(sb: Sandbox, client: httpx.Client) -> None:
    response = client.post(push_url(sb), json=direct_cost(sb), params={"timeoutInMinutes": 5})
    pending = body_of(response, PLATFORM, "PushOperation")
    validate(pending, ACCOUNTING, "CreateDirectCostResponse", strict=True)
    assert pending["dataType"] == "directCosts" and pending["timeoutInMinutes"] == 5
    assert pending["companyId"] == sb.company_id and pending["dataConnectionKey"] == sb.connection_id
    assert pending["changes"] is None

    assert sb.wait_idle(5)
    final = body_of(client.get(f"/companies/{sb.company_id}/push/{pending['pushOperationKey']}"), PLATFORM, "PushOperation")
    assert final["status"] == "Success" and final["statusCode"] == 200 and final["completedOnUtc"]
    (change,) = final["changes"]
    assert change["type"] == "Created" and change["recordRef"]["dataType"] == "directCosts"
    (record,) = sb.ledger(sb.company_id)
    assert record["id"] == change["recordRef"]["id"]
    assert record["totalAmount"] == Decimal("12.0") and isinstance(record["totalAmount"], Decimal)
    assert sb.push_operations[pending["pushOperationKey"]]["status"] == "Success"


def test_totals_compare_as_decimal(sb: Sandbox, client: httpx.Client) -> None:
    """0.1 + 0.2 == 0.3 exactly: JSON numbers are parsed as Decimal, never float."""
    body = direct_cost(sb, sub_total="0.1", tax="0.2", total="0.3")
    assert push_and_finish(sb, client, body)["status"] == "Success"
    raw = (b'{"issueDate":"2024-03-01","currency":"GBP","subTotal":100.005,"taxAmount":20.001,'
           b'"totalAmount":120.006,"lineItems":[{"quantity":1,"unitAmount":100.005,"accountRef":{"id":"%s"}}],'
           b'"paymentAllocations":[{"payment":{"accountRef":{"id":"%s"}},"allocation":{}}],"contactRef":{"id":"%s"}}'
           % (account_ids(sb)["429"].encode(), account_ids(sb)["090"].encode(), body["contactRef"]["id"].encode()))
    pending = body_of(client.post(push_url(sb), content=raw, headers={"content-type": "application/json"}),
                      PLATFORM, "PushOperation")
    assert sb.wait_idle(5)
    assert sb.push_operations[pending["pushOperationKey"]]["status"] == "Success"
    assert sb.ledger()[-1]["totalAmount"] == Decimal("120.006")


def _break(sb: Sandbox, case: str) -> dict[str, Any]:
    body = direct_cost(sb)
    unknown = "9d0c1f7a-7f43-4d4b-8c2e-000000000000"
    if case == "line account":
        body["lineItems"][0]["accountRef"]["id"] = unknown
    elif case == "payment account":
        body["paymentAllocations"][0]["payment"]["accountRef"]["id"] = unknown
    elif case == "payment not a bank":
        body["paymentAllocations"][0]["payment"]["accountRef"]["id"] = account_ids(sb)["429"]
    elif case == "contact":
        body["contactRef"] = {"id": unknown, "dataType": "suppliers"}
    elif case == "totals":
        body["totalAmount"] = 12.01
    elif case == "missing issueDate":
        del body["issueDate"]
    elif case == "missing lineItems":
        del body["lineItems"]
    elif case == "currency":
        body["currency"] = "gbp"
    elif case == "tax rate":
        body["lineItems"][0]["taxRateRef"] = {"id": "NOPE"}
    elif case == "read-only id":
        body["id"] = "client-made-id"
    return body


@pytest.mark.parametrize(
    ("case", "item_id"),
    [
        ("line account", "LineItems[0].AccountRef.Id"),
        ("payment account", "PaymentAllocations[0].Payment.AccountRef.Id"),
        ("payment not a bank", "PaymentAllocations[0].Payment.AccountRef.Id"),
        ("contact", "ContactRef.Id"),
        ("totals", "TotalAmount"),
        ("missing issueDate", "IssueDate"),
        ("missing lineItems", "LineItems"),
        ("currency", "Currency"),
        ("tax rate", "LineItems[0].TaxRateRef.Id"),
        ("read-only id", "Id"),
    ],
)
def test_direct_cost_validation_failures(sb: Sandbox, client: httpx.Client, case: str, item_id: str) -> None:
    final = push_and_finish(sb, client, _break(sb, case))
    assert final["status"] == "Failed" and final["statusCode"] == 400
    assert final["errorMessage"] == "Push failed for DirectCost: see validation"
    assert final["changes"] is None
    errors = final["validation"]["errors"]
    assert [e["itemId"] for e in errors] == [item_id]
    assert all(e["message"] and e["validatorName"] for e in errors)
    assert sb.ledger() == []


def test_valid_supplier_contact_is_accepted(sb: Sandbox, client: httpx.Client) -> None:
    supplier_id = body_of(client.get(f"/companies/{sb.company_id}/data/suppliers"), ACCOUNTING, "Suppliers")["results"][0]["id"]
    body = direct_cost(sb, contactRef={"id": supplier_id, "dataType": "suppliers"})
    assert push_and_finish(sb, client, body)["status"] == "Success"


def test_timeout_hook_and_timeout_share(sb: Sandbox, client: httpx.Client) -> None:
    final = push_and_finish(sb, client, direct_cost(sb, note="please [sandbox:timeout]"))
    assert final["status"] == "TimedOut" and final["changes"] is None
    sb.config.timeout_share = 1.0
    assert push_and_finish(sb, client, direct_cost(sb))["status"] == "TimedOut"
    assert sb.ledger() == []  # a timed-out write is not applied


def test_timeout_in_minutes_shorter_than_the_write_times_out(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.push_delay = 60.0
    final = push_and_finish(sb, client, direct_cost(sb), timeoutInMinutes=0)
    assert final["status"] == "TimedOut" and final["timeoutInMinutes"] == 0
    assert final["statusCode"] == 504 and final["errorMessage"]
    assert sb.ledger() == []


def test_timeout_share_is_seeded() -> None:
    def outcomes(seed: int) -> list[str]:
        sandbox = Sandbox(SandboxConfig(push_delay=0.0, seed=seed, timeout_share=0.5))
        try:
            with client_for(sandbox) as http:
                keys = [http.post(push_url(sandbox), json=direct_cost(sandbox)).json()["pushOperationKey"] for _ in range(12)]
            assert sandbox.wait_idle(5)
            return [sandbox.push_operations[key]["status"] for key in keys]
        finally:
            sandbox.shutdown()

    first = outcomes(3)
    assert first == outcomes(3)
    assert {"TimedOut", "Success"} <= set(first)


@pytest.mark.parametrize(
    ("content", "params"),
    [(b"{not json", {}), (b"[1, 2]", {}), (b'{"currency": "GBP"}', {"timeoutInMinutes": "soon"}),
     (b'{"currency": "GBP"}', {"allowSyncOnPushComplete": "maybe"})],
)
def test_push_request_errors_are_400(sb: Sandbox, client: httpx.Client, content: bytes, params: dict[str, str]) -> None:
    error_of(client.post(push_url(sb), content=content, params=params, headers={"content-type": "application/json"}), 400)
    assert sb.push_operations == {}


def test_push_history_query_and_order(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.push_delay = 60.0  # stays Pending
    pending_keys = [client.post(push_url(sb), json=direct_cost(sb)).json()["pushOperationKey"] for _ in range(2)]
    sb.config.push_delay = 0.0
    account = client.post(push_url(sb, "accounts"),
                          json={"nominalCode": "777", "name": "Parking", "fullyQualifiedCategory": "Expense.Overhead"})
    wait_until(lambda: sb.push_operations[account.json()["pushOperationKey"]]["status"] == "Success")

    url = f"/companies/{sb.company_id}/push"
    everything = body_of(client.get(url), PLATFORM, "PushOperations")
    assert everything["totalResults"] == 3
    pending = body_of(client.get(url, params={"query": "status=Pending && dataType=directCosts"}), PLATFORM, "PushOperations")
    assert sorted(op["pushOperationKey"] for op in pending["results"]) == sorted(pending_keys)
    assert body_of(client.get(url, params={"query": "status=Pending&&dataType=chartOfAccounts"}),
                   PLATFORM, "PushOperations")["totalResults"] == 0
    newest_first = body_of(client.get(url, params={"orderBy": "-requestedOnUtc"}), PLATFORM, "PushOperations")
    stamps = [op["requestedOnUtc"] for op in newest_first["results"]]
    assert stamps == sorted(stamps, reverse=True)
    error_of(client.get(f"{url}/0b9f6d3c-5a5e-4e2a-9d8f-5a7e2c1b0a99"), 404)


# -- pushing accounts -------------------------------------------------------------------------------

def test_account_push_creates_an_account_usable_by_a_direct_cost(sb: Sandbox, client: httpx.Client) -> None:
    new_account = {"nominalCode": "4711", "name": "Conference Fees", "fullyQualifiedCategory": "Expense.Overhead",
                   "description": "Created by codatdesk"}
    response = client.post(push_url(sb, "accounts"), json=new_account, params={"allowSyncOnPushComplete": "false"})
    validate(body_of(response, PLATFORM, "PushOperation"), ACCOUNTING, "CreateAccountResponse", strict=True)
    assert response.json()["dataType"] == "chartOfAccounts"
    assert sb.wait_idle(5)
    final = body_of(client.get(f"/companies/{sb.company_id}/push/{response.json()['pushOperationKey']}"),
                    PLATFORM, "PushOperation")
    assert final["status"] == "Success"
    (change,) = final["changes"]
    account_id = change["recordRef"]["id"]
    assert change == {"type": "Created", "recordRef": {"id": account_id, "dataType": "chartOfAccounts"}, "attachmentId": None}

    # Codat does not cache written records: without a sync on push complete, the list shows it only after a refresh.
    accounts_url = f"/companies/{sb.company_id}/data/accounts"
    assert account_id not in [a["id"] for a in client.get(accounts_url).json()["results"]]
    pull = body_of(client.post(f"/companies/{sb.company_id}/data/queue/chartOfAccounts"), PLATFORM, "PullOperation")
    assert pull["status"] == "Complete" and pull["isCompleted"] is True
    listed = {a["id"]: a for a in client.get(accounts_url).json()["results"]}
    assert listed[account_id]["nominalCode"] == "4711" and listed[account_id]["type"] == "Expense"

    # ...but the platform knows it at once, so a dependent directCost succeeds.
    body = direct_cost(sb)
    body["lineItems"][0]["accountRef"] = {"id": account_id}
    assert push_and_finish(sb, client, body)["status"] == "Success"


@pytest.mark.parametrize(
    ("account", "item_id"),
    [
        ({"nominalCode": "400", "name": "Dup", "fullyQualifiedCategory": "Expense.Overhead"}, "NominalCode"),
        ({"nominalCode": "12345678901", "name": "Long", "fullyQualifiedCategory": "Expense.Overhead"}, "NominalCode"),
        ({"nominalCode": "901", "fullyQualifiedCategory": "Expense.Overhead"}, "Name"),
        ({"nominalCode": "902", "name": "X", "fullyQualifiedCategory": "Expense.Whatever"}, "FullyQualifiedCategory"),
    ],
)
def test_account_validation_failures(sb: Sandbox, client: httpx.Client, account: dict[str, Any], item_id: str) -> None:
    final = push_and_finish(sb, client, account, "accounts")
    assert final["status"] == "Failed" and final["statusCode"] == 400
    assert final["errorMessage"] == "Push failed for Account: see validation"
    assert [e["itemId"] for e in final["validation"]["errors"]] == [item_id]


# -- webhook consumers ---------------------------------------------------------------------------

def test_webhook_consumer_crud(sb: Sandbox, client: httpx.Client) -> None:
    created = body_of(client.post("/webhooks", json={"url": "https://example.test/hook",
                                                     "eventTypes": ["directCosts.write.successful"]}),
                      PLATFORM, "WebhookConsumer", 201)
    assert "secret" not in created and created["disabled"] is False
    assert sb.consumer_secret(created["id"]).startswith("whsec_")
    listed = body_of(client.get("/webhooks"), PLATFORM, "WebhookConsumer/definitions/webhookConsumers")
    assert [c["id"] for c in listed["results"]] == [created["id"]]
    deleted = client.delete(f"/webhooks/{created['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get("/webhooks").json() == {"results": []}
    error_of(client.delete(f"/webhooks/{created['id']}"), 404)
    error_of(client.post("/webhooks", json={"url": "not a url", "eventTypes": []}), 400)
    error_of(client.post("/webhooks", json={"url": "https://x.test", "eventTypes": "all"}), 400)


def test_add_webhook_consumer_returns_secret(sb: Sandbox) -> None:
    consumer = sb.add_webhook_consumer("http://127.0.0.1:9/h", ["connection.disconnected"])
    assert consumer["secret"].startswith("whsec_") and sb.consumer_secret(consumer["id"]) == consumer["secret"]
    chosen = sb.add_webhook_consumer("http://127.0.0.1:9/h", [], secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert chosen["secret"] == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


# -- rate limits and faults ------------------------------------------------------------------------

def test_eleventh_concurrent_request_gets_429(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.latency = 1.5
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(client.get("/companies/" + sb.company_id).status_code))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sb.in_flight(sb.company_id) == 10)
    sb.config.latency = 0.0
    response = client.get(f"/companies/{sb.company_id}/data/accounts")
    body = error_of(response, 429)
    assert response.headers["Retry-After"] == "1" and "too many requests" in body["error"]
    assert client.get("/companies").status_code == 200  # other scopes are not limited by this company
    for thread in threads:
        thread.join()
    assert statuses == [200] * 10
    assert client.get(f"/companies/{sb.company_id}/data/accounts").status_code == 200


def test_daily_quota(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.daily_quota = 3
    remaining = [int(client.get("/companies").headers["X-Rate-Limit-Remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    response = client.get("/companies")
    error_of(response, 429)
    assert int(response.headers["Retry-After"]) > 0 and response.headers["X-Rate-Limit-Limit"] == "3"
    sb.config.daily_quota = None
    assert client.get("/companies").status_code == 200


def test_error_rate_answers_500_or_503_without_side_effects(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.error_rate = 1.0
    statuses = set()
    for _ in range(12):
        response = client.post(push_url(sb), json=direct_cost(sb))
        statuses.add(response.status_code)
        error_of(response, response.status_code)
    assert statuses == {500, 503}
    assert sb.push_operations == {}
    sb.config.error_rate = 0.0
    assert client.post(push_url(sb), json=direct_cost(sb)).status_code == 200


def test_latency_honours_client_read_timeout(sb: Sandbox) -> None:
    sb.config.latency = 2.0
    with client_for(sb, timeout=httpx.Timeout(5.0, read=0.2)) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.get("/companies")
    wait_until(lambda: sb.in_flight("client") == 0)  # the abandoned request released its slot


# -- /_sandbox steering --------------------------------------------------------------------------------

def test_sandbox_steering_endpoints(sb: Sandbox) -> None:
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox") as plain:  # no auth needed
        info = plain.get("/_sandbox").json()
        assert info["companyId"] == sb.company_id and info["connectionId"] == sb.connection_id
        assert info["authorization"] == auth_header(sb.api_key)["Authorization"]
        updated = plain.post("/_sandbox/config", json={"error_rate": 0.25, "retry_schedule": [0, 1], "shuffle": True})
        assert updated.status_code == 200
        assert (sb.config.error_rate, sb.config.retry_schedule, sb.config.shuffle) == (0.25, (0.0, 1.0), True)
        assert plain.post("/_sandbox/config", json={"error_rate": 2}).status_code == 400
        assert plain.post("/_sandbox/config", json={"no_such_knob": 1}).status_code == 400
        assert plain.get("/_sandbox/config").json()["error_rate"] == 0.25

        url = f"/_sandbox/companies/{sb.company_id}/connections/{sb.connection_id}/status"
        moved = plain.post(url, json={"status": "Deauthorized"})
        assert moved.status_code == 200 and moved.json()["status"] == "Deauthorized"
        assert moved.json()["dataConnectionErrors"][0]["statusCode"] == "401"
        assert plain.post(url, json={"status": "Sideways"}).status_code == 400
        assert plain.get(f"/_sandbox/companies/{sb.company_id}/ledger").json() == {"results": []}
        assert plain.post("/_sandbox/wait-idle", params={"timeout": 1}).json() == {"idle": True}
        consumer = sb.add_webhook_consumer("http://127.0.0.1:9/h", [])
        assert plain.get(f"/_sandbox/webhooks/{consumer['id']}/secret").json()["secret"] == consumer["secret"]
        assert plain.get("/_sandbox/webhooks/nope/secret").status_code == 404


def test_transport_after_shutdown_raises_connect_error() -> None:
    sandbox = Sandbox(SandboxConfig())
    http = client_for(sandbox)
    assert http.get("/companies").status_code == 200
    sandbox.shutdown()
    with pytest.raises(httpx.ConnectError):
        http.get("/companies")
    with pytest.raises(RuntimeError):
        sandbox.transport()
    http.close()


def test_assigning_a_new_config_takes_effect(sb: Sandbox, client: httpx.Client) -> None:
    sb.config = SandboxConfig(push_delay=0.01, daily_quota=1)
    assert client.get("/companies").status_code == 200
    error_of(client.get("/companies"), 429)
    assert sb.deliverer.config is sb.config and sb.limiter.config is sb.config
