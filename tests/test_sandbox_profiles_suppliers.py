"""Supplier writes in the sandbox: POST .../push/suppliers, its rules, its webhooks, and read-after-sync."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from codatdesk.sandbox import Sandbox, SandboxConfig
from tests.openapi_schemas import validate, validate_webhook
from tests.sandbox_support import Receiver, client_for

PLATFORM = "Codat-Platform.json"
ACCOUNTING = "Codat-Accounting-2023.json"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02, retry_schedule=(0, 0.05)))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sb) as http:
        yield http


def push_supplier(sb: Sandbox, client: httpx.Client, body: Any, **params: Any) -> dict[str, Any]:
    url = f"/companies/{sb.company_id}/connections/{sb.connection_id}/push/suppliers"
    response = client.post(url, json=body, params=params)
    assert response.status_code == 200, response.text
    pending = response.json()
    validate(pending, PLATFORM, "PushOperation", strict=True)
    assert pending["status"] == "Pending" and pending["dataType"] == "suppliers"
    assert sb.wait_idle(5)
    final = client.get(f"/companies/{sb.company_id}/push/{pending['pushOperationKey']}").json()
    validate(final, PLATFORM, "PushOperation", strict=True)
    return final


def listed_names(sb: Sandbox, client: httpx.Client) -> set[str]:
    body = client.get(f"/companies/{sb.company_id}/data/suppliers", params={"pageSize": 500}).json()
    validate(body, ACCOUNTING, "Suppliers", strict=True)
    return {s["supplierName"] for s in body["results"]}


def test_a_supplier_push_creates_the_supplier_and_names_it_in_changes(sb: Sandbox, client: httpx.Client) -> None:
    body = {"supplierName": "Kelly's Industrial Supplies", "status": "Active",
            "emailAddress": "sales@kellysupplies.example"}
    validate(body, ACCOUNTING, "Supplier", strict=True)  # the request body Codat's spec names
    final = push_supplier(sb, client, body)
    assert final["status"] == "Success" and final["statusCode"] == 200
    (change,) = final["changes"]
    assert change["type"] == "Created" and change["recordRef"]["dataType"] == "suppliers"
    created = next(s for s in sb.suppliers() if s["id"] == change["recordRef"]["id"])
    assert created["supplierName"] == "Kelly's Industrial Supplies" and created["defaultCurrency"] == "GBP"
    # allowSyncOnPushComplete defaults to true: the push synced suppliers, so the list shows it.
    assert "Kelly's Industrial Supplies" in listed_names(sb, client)
    one = client.get(f"/companies/{sb.company_id}/data/suppliers/{change['recordRef']['id']}")
    assert one.status_code == 200 and one.json()["supplierName"] == "Kelly's Industrial Supplies"


def test_without_sync_on_push_complete_a_written_supplier_shows_only_after_a_sync(sb: Sandbox,
                                                                                   client: httpx.Client) -> None:
    final = push_supplier(sb, client, {"supplierName": "Quiet Ltd", "status": "Active"},
                          allowSyncOnPushComplete="false")
    assert final["status"] == "Success"
    new_id = final["changes"][0]["recordRef"]["id"]
    assert "Quiet Ltd" not in listed_names(sb, client)
    assert client.get(f"/companies/{sb.company_id}/data/suppliers/{new_id}").status_code == 404
    assert client.post(f"/companies/{sb.company_id}/data/queue/suppliers").status_code == 200
    assert "Quiet Ltd" in listed_names(sb, client)


@pytest.mark.parametrize("body, item_id", [
    ({"status": "Active"}, "SupplierName"),
    ({"supplierName": "  ", "status": "Active"}, "SupplierName"),
    ({"supplierName": "acme office supplies", "status": "Active"}, "SupplierName"),  # a name already used
    ({"supplierName": "Long Reg Ltd", "registrationNumber": "9" * 51}, "RegistrationNumber"),
    ({"supplierName": "Odd Status Ltd", "status": "Sleeping"}, "Status"),
    ({"supplierName": "Has Id Ltd", "id": "x"}, "Id"),
])
def test_supplier_rules_fail_with_codat_shaped_errors(sb: Sandbox, client: httpx.Client, body: dict[str, Any],
                                                      item_id: str) -> None:
    before = len(sb.suppliers())
    final = push_supplier(sb, client, body)
    assert final["status"] == "Failed" and final["statusCode"] == 400
    assert final["errorMessage"] == "Push failed for Supplier: see validation"
    assert item_id in [e["itemId"] for e in final["validation"]["errors"]]
    assert all(e["validatorName"] == "Supplier" for e in final["validation"]["errors"])
    assert len(sb.suppliers()) == before


def test_supplier_webhooks(sb: Sandbox, client: httpx.Client) -> None:
    receiver = Receiver()
    try:
        sb.add_webhook_consumer(receiver.url(), ["suppliers.write.successful", "suppliers.write.unsuccessful"])
        ok = push_supplier(sb, client, {"supplierName": "Hooked Ltd", "status": "Active"})
        push_supplier(sb, client, {"supplierName": "Hooked Ltd", "status": "Active"})  # duplicate: fails
        messages = receiver.wait_for(2)
    finally:
        receiver.stop()
    events = sorted((httpx.Response(200, content=m.body).json() for m in messages), key=lambda e: e["eventType"])
    for event in events:
        validate_webhook(event, event["eventType"], strict=True)
    assert [e["eventType"] for e in events] == ["suppliers.write.successful", "suppliers.write.unsuccessful"]
    assert events[0]["payload"]["record"]["id"] == ok["changes"][0]["recordRef"]["id"]


def test_supplier_create_model_is_served(sb: Sandbox, client: httpx.Client) -> None:
    response = client.get(f"/companies/{sb.company_id}/connections/{sb.connection_id}/options/suppliers")
    assert response.status_code == 200
    model = response.json()
    validate(model, PLATFORM, "PushOption", strict=True)
    assert model["properties"]["supplierName"]["required"] is True
