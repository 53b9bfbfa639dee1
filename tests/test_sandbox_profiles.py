"""Integration profiles: each sandbox company follows the rules of the ledger behind its connection."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk import integrations
from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.openapi_schemas import validate
from tests.sandbox_support import Receiver, client_for

PLATFORM = "Codat-Platform.json"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02, retry_schedule=(0, 0.05)))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def company(sb: Sandbox, key: str) -> tuple[str, str]:
    if key == integrations.XERO:
        return sb.company_id, sb.connection_id
    return sb.add_company(f"Books on {key}", key)


def ids(sb: Sandbox, company_id: str) -> dict[str, str]:
    return {a["nominalCode"]: a["id"] for a in sb.accounts(company_id)}


def cost(sb: Sandbox, company_id: str, *, currency: str = "GBP", rate: Any = None, total: str = "120.00",
         tax: str = "20.00", reference: str = "EXP-1", contact: bool = True, bank: str = "090") -> dict[str, Any]:
    codes = ids(sb, company_id)
    sub = Decimal(total) - Decimal(tax)
    body: dict[str, Any] = {
        "issueDate": "2026-11-03T00:00:00", "currency": currency, "reference": reference,
        "lineItems": [{"description": "Train", "quantity": 1, "unitAmount": sub, "subTotal": sub,
                       "taxAmount": Decimal(tax), "totalAmount": Decimal(total),
                       "accountRef": {"id": codes["493"]}, "taxRateRef": {"id": "INPUT2"}}],
        "paymentAllocations": [{"payment": {"accountRef": {"id": codes[bank]}, "currency": currency,
                                            "totalAmount": Decimal(total)},
                                "allocation": {"currency": currency, "totalAmount": Decimal(total)}}],
        "subTotal": sub, "taxAmount": Decimal(tax), "totalAmount": Decimal(total),
    }
    if rate is not None:
        body["currencyRate"] = rate
    if contact:
        body["contactRef"] = {"id": sb.suppliers(company_id)[0]["id"], "dataType": "suppliers"}
    return body


def push(sb: Sandbox, client: httpx.Client, company_id: str, connection_id: str, body: Any,
         data_type: str = "directCosts", **params: Any) -> dict[str, Any]:
    response = client.post(f"/companies/{company_id}/connections/{connection_id}/push/{data_type}",
                           content=_dumps(body),
                           headers={"content-type": "application/json"}, params=params)
    assert response.status_code == 200, response.text
    assert sb.wait_idle(5)
    final = client.get(f"/companies/{company_id}/push/{response.json()['pushOperationKey']}").json()
    validate(final, PLATFORM, "PushOperation", strict=True)
    return final


def _dumps(body: Any) -> bytes:
    from codatdesk.sandbox.jsonio import dump_bytes

    return dump_bytes(body)


def item_ids(operation: dict[str, Any]) -> list[str]:
    return [e["itemId"] for e in operation["validation"]["errors"]]


# -- create models ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, code_max, name_max", [
    (integrations.XERO, 10, None), (integrations.QUICKBOOKS_ONLINE, 7, 100), (integrations.QUICKBOOKS_DESKTOP, 7, 31),
])
def test_each_profile_serves_its_own_create_models(sb: Sandbox, client: httpx.Client, key: str, code_max: int,
                                                    name_max: int | None) -> None:
    company_id, connection_id = company(sb, key)
    models = {}
    for data_type in ("directCosts", "chartOfAccounts", "suppliers"):
        response = client.get(f"/companies/{company_id}/connections/{connection_id}/options/{data_type}")
        assert response.status_code == 200
        models[data_type] = response.json()
        validate(models[data_type], PLATFORM, "PushOption", strict=True)
    accounts = models["chartOfAccounts"]["properties"]
    assert accounts["nominalCode"]["validation"]["warnings"][0]["details"] == f"Max length of {code_max} characters."
    if name_max:
        assert accounts["name"]["validation"]["warnings"][0]["details"] == f"Max length of {name_max} characters."
    categories = [o["value"] for o in accounts["fullyQualifiedCategory"]["options"]]
    assert ("Expense.Overhead" in categories) == (key == integrations.XERO)
    contact = models["directCosts"]["properties"]["contactRef"]["required"]
    assert contact == (key != integrations.QUICKBOOKS_DESKTOP)


# -- direct costs ----------------------------------------------------------------------------

def test_xero_requires_a_contact(sb: Sandbox, client: httpx.Client) -> None:
    final = push(sb, client, sb.company_id, sb.connection_id, cost(sb, sb.company_id, contact=False))
    assert final["status"] == "Failed" and "ContactRef" in item_ids(final)
    assert sb.ledger() == []


def test_quickbooks_desktop_takes_a_direct_cost_without_contact(sb: Sandbox, client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_DESKTOP)
    sb.set_connector_online(company_id)
    final = push(sb, client, company_id, connection_id, cost(sb, company_id, contact=False))
    assert final["status"] == "Success", final


def test_a_foreign_cost_without_rate_is_refused_by_xero_and_booked_at_1_by_quickbooks_online(
        sb: Sandbox, client: httpx.Client) -> None:
    xero = push(sb, client, sb.company_id, sb.connection_id, cost(sb, sb.company_id, currency="EUR"))
    assert xero["status"] == "Failed" and "CurrencyRate" in item_ids(xero)
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_ONLINE)
    qbo = push(sb, client, company_id, connection_id, cost(sb, company_id, currency="EUR"))
    assert qbo["status"] == "Success"
    (booked,) = sb.bookings(company_id)
    assert booked["nullRateBookedAsOne"] and booked["baseTotalAmount"] == Decimal("120.00")  # EUR 120 as GBP 120


def test_the_booking_records_what_the_ledger_holds(sb: Sandbox, client: httpx.Client) -> None:
    body = cost(sb, sb.company_id, currency="EUR", rate=Decimal("0.85"))
    final = push(sb, client, sb.company_id, sb.connection_id, body)
    assert final["status"] == "Success", final
    (booked,) = sb.bookings()
    assert booked["directCostId"] == final["changes"][0]["recordRef"]["id"]
    assert booked["baseTotalAmount"] == Decimal("102.0000") and booked["baseTaxAmount"] == Decimal("17.0000")
    (line,) = booked["lines"]
    assert line["accountId"] == ids(sb, sb.company_id)["493"] and line["taxRateId"] == "INPUT2"
    assert line["effectiveTaxRate"] == Decimal(20) and line["baseTaxAmount"] == Decimal("17.0000")
    assert booked["contactId"] == body["contactRef"]["id"]
    assert booked["bankAccountId"] == ids(sb, sb.company_id)["090"]
    over_http = client.get(f"/_sandbox/companies/{sb.company_id}/bookings").json()["results"]
    assert over_http[0]["contactId"] == booked["contactId"]


@pytest.mark.parametrize("key, limit", [(integrations.XERO, 255), (integrations.QUICKBOOKS_ONLINE, 21)])
def test_reference_length(sb: Sandbox, client: httpx.Client, key: str, limit: int) -> None:
    company_id, connection_id = company(sb, key)
    fits = push(sb, client, company_id, connection_id, cost(sb, company_id, reference="R" * limit))
    assert fits["status"] == "Success"
    too_long = push(sb, client, company_id, connection_id, cost(sb, company_id, reference="R" * (limit + 1)))
    assert too_long["status"] == "Failed" and "Reference" in item_ids(too_long)


def test_xero_writes_a_negative_direct_cost_as_receive_money_with_a_warning(sb: Sandbox,
                                                                            client: httpx.Client) -> None:
    final = push(sb, client, sb.company_id, sb.connection_id, cost(sb, sb.company_id, total="-35.00", tax="0"))
    assert final["status"] == "Success"
    assert final["changes"][0]["recordRef"]["dataType"] == "directIncomes"
    assert "converted to a DirectIncome" in final["validation"]["warnings"][0]["message"]
    (booked,) = sb.bookings()
    assert booked["bookedAs"] == "receive money" and booked["baseTotalAmount"] == Decimal("35.00")


def test_quickbooks_online_refuses_a_negative_direct_cost(sb: Sandbox, client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_ONLINE)
    final = push(sb, client, company_id, connection_id, cost(sb, company_id, total="-35.00", tax="0"))
    assert final["status"] == "Failed" and "TotalAmount" in item_ids(final)


def test_paid_from_must_not_be_a_third_currency(sb: Sandbox, client: httpx.Client) -> None:
    data = sb.state.company(sb.company_id)
    with sb.state.lock:
        next(a for a in data.accounts.values() if a["nominalCode"] == "091")["currency"] = "USD"
    final = push(sb, client, sb.company_id, sb.connection_id,
                 cost(sb, sb.company_id, currency="EUR", rate=Decimal("0.85"), bank="091"))
    assert final["status"] == "Failed" and "PaymentAllocations[0].Payment.AccountRef.Id" in item_ids(final)


# -- accounts --------------------------------------------------------------------------------

@pytest.mark.parametrize("key, account, item_id", [
    (integrations.XERO, {"nominalCode": "12345678901", "name": "Long", "fullyQualifiedCategory": "Expense.Overhead"},
     "NominalCode"),
    (integrations.XERO, {"nominalCode": "4713", "name": "Cat", "fullyQualifiedCategory": "Expense.Expense.Travel"},
     "FullyQualifiedCategory"),
    (integrations.QUICKBOOKS_ONLINE, {"nominalCode": "12345678", "name": "Long",
                                      "fullyQualifiedCategory": "Expense.Expense.Travel"}, "NominalCode"),
    (integrations.QUICKBOOKS_ONLINE, {"name": "Overhead", "fullyQualifiedCategory": "Expense.Overhead"},
     "FullyQualifiedCategory"),
    (integrations.QUICKBOOKS_DESKTOP, {"nominalCode": "6001", "name": "N" * 32,
                                       "fullyQualifiedCategory": "Expense.Expense"}, "Name"),
])
def test_account_models_are_enforced(sb: Sandbox, client: httpx.Client, key: str, account: dict[str, Any],
                                     item_id: str) -> None:
    company_id, connection_id = company(sb, key)
    sb.set_connector_online(company_id)
    final = push(sb, client, company_id, connection_id, account, "accounts")
    assert final["status"] == "Failed" and item_id in item_ids(final)


def test_quickbooks_online_creates_an_account_without_a_code_in_its_own_category(sb: Sandbox,
                                                                                  client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_ONLINE)
    final = push(sb, client, company_id, connection_id,
                 {"name": "Rail fares", "fullyQualifiedCategory": "Expense.Expense.Travel"}, "accounts")
    assert final["status"] == "Success"


# -- suppliers per profile -------------------------------------------------------------------

def test_quickbooks_online_names_a_supplier_from_its_contact_with_a_warning(sb: Sandbox, client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_ONLINE)
    final = push(sb, client, company_id, connection_id, {"contactName": "Jo Bloggs", "status": "Active"}, "suppliers")
    assert final["status"] == "Success" and final["validation"]["warnings"][0]["itemId"] == "SupplierName"
    assert any(s["supplierName"] == "Jo Bloggs" for s in sb.suppliers(company_id))
    xero = push(sb, client, sb.company_id, sb.connection_id, {"contactName": "Jo Bloggs"}, "suppliers")
    assert xero["status"] == "Failed" and "SupplierName" in item_ids(xero)


def test_quickbooks_desktop_supplier_name_length(sb: Sandbox, client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_DESKTOP)
    sb.set_connector_online(company_id)
    final = push(sb, client, company_id, connection_id, {"supplierName": "S" * 42, "status": "Active"}, "suppliers")
    assert final["status"] == "Failed" and "SupplierName" in item_ids(final)


# -- on-premise ------------------------------------------------------------------------------

def test_on_premise_pushes_wait_for_the_desktop_connector(sb: Sandbox, client: httpx.Client) -> None:
    company_id, connection_id = company(sb, integrations.QUICKBOOKS_DESKTOP)
    url = f"/companies/{company_id}/connections/{connection_id}/push/directCosts"
    waiting = client.post(url, content=_dumps(cost(sb, company_id)), headers={"content-type": "application/json"})
    timed = client.post(url, content=_dumps(cost(sb, company_id)), headers={"content-type": "application/json"},
                        params={"timeoutInMinutes": 0})
    assert sb.wait_idle(5)
    key = waiting.json()["pushOperationKey"]
    assert sb.push_operations[key]["status"] == "Pending"  # the connector is offline: no end in sight
    assert sb.push_operations[timed.json()["pushOperationKey"]]["status"] == "TimedOut"
    assert sb.ledger(company_id) == []
    sb.set_connector_online(company_id)
    assert sb.wait_idle(5)
    assert sb.push_operations[key]["status"] == "Success" and len(sb.ledger(company_id)) == 1


# -- written records read after a sync -------------------------------------------------------

def test_a_written_direct_cost_is_read_only_after_a_sync_when_push_does_not_sync(sb: Sandbox,
                                                                               client: httpx.Client) -> None:
    final = push(sb, client, sb.company_id, sb.connection_id, cost(sb, sb.company_id),
                 allowSyncOnPushComplete="false")
    url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/data/directCosts/" \
          f"{final['changes'][0]['recordRef']['id']}"
    assert client.get(url).status_code == 404
    client.post(f"/companies/{sb.company_id}/data/queue/directCosts")
    assert client.get(url).status_code == 200
    synced = push(sb, client, sb.company_id, sb.connection_id, cost(sb, sb.company_id, reference="EXP-2"))
    assert client.get(url.rsplit("/", 1)[0] + "/" + synced["changes"][0]["recordRef"]["id"]).status_code == 200


# -- several connections, company tags ---------------------------------------------------------

def test_a_company_holds_accounting_banking_and_expense_connections(sb: Sandbox, client: httpx.Client) -> None:
    sb.add_source_connection(sb.company_id, "Banking", "banking-sandbox", "Banking sandbox")
    sb.add_source_connection(sb.company_id, "Expense", "expense-partner", "Partner Expense")
    listed = client.get(f"/companies/{sb.company_id}/connections").json()
    validate(listed, PLATFORM, "Connections", strict=True)
    assert sorted(c["sourceType"] for c in listed["results"]) == ["Accounting", "Banking", "Expense"]
    # The ledger's rules stay the accounting connection's.
    assert sb.state.company(sb.company_id).platform_key == integrations.XERO


def test_webhooks_reach_only_consumers_whose_company_tags_match(sb: Sandbox, client: httpx.Client) -> None:
    ours, _ = sb.add_company("Ours", integrations.XERO, tags={"app": "codatdesk"})
    theirs, _ = sb.add_company("Theirs", integrations.XERO, tags={"app": "other"})
    receiver = Receiver()
    try:
        sb.add_webhook_consumer(receiver.url(), ["company.created"], company_tags=["app:codatdesk"])
        sb.create_company("Late ours", tags={"app": "codatdesk"})
        sb.create_company("Late theirs", tags={"app": "other"})
        assert sb.wait_idle(5)
        (message,) = receiver.wait_for(1)
    finally:
        receiver.stop()
    assert b"Late ours" in message.body and ours != theirs


def test_page_overlap_repeats_records_in_every_list(sb: Sandbox, client: httpx.Client) -> None:
    sb.config.page_overlap = 1
    paths = [f"/companies/{sb.company_id}/data/{name}" for name in ("accounts", "suppliers", "taxRates")]
    paths.append(f"/companies/{sb.company_id}/connections/{sb.connection_id}/data/bankAccounts")
    for path in paths:
        first = client.get(path, params={"pageSize": 2}).json()["results"]
        second = client.get(path, params={"pageSize": 2, "page": 2}).json()["results"]
        assert first[-1]["id"] == second[0]["id"], path


def test_a_replaced_connection_is_unlinked_and_names_its_successor(sb: Sandbox, client: httpx.Client) -> None:
    receiver = Receiver()
    try:
        sb.add_webhook_consumer(receiver.url(), ["connection.connected", "connection.disconnected"])
        new = sb.replace_connection(sb.company_id, sb.connection_id)
        messages = receiver.wait_for(2)
    finally:
        receiver.stop()
    old = client.get(f"/companies/{sb.company_id}/connections/{sb.connection_id}").json()
    validate(old, PLATFORM, "Connection", strict=True)
    assert old["status"] == "Unlinked" and new["id"] in old["dataConnectionErrors"][-1]["errorMessage"]
    assert new["status"] == "Linked" and new["integrationKey"] == integrations.XERO
    assert sorted(httpx.Response(200, content=m.body).json()["eventType"] for m in messages) == [
        "connection.connected", "connection.disconnected"]
    body = cost(sb, sb.company_id)
    assert push(sb, client, sb.company_id, new["id"], body)["status"] == "Success"
