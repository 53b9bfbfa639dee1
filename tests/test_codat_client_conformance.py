"""The request bodies CodatClient sends conform to Codat's OpenAPI specs.

Bodies are captured with a MockTransport and decoded with the plain ``json``
module, i.e. as Codat would see them (Decimals must arrive as JSON numbers).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk.codat import CodatClient
from tests.openapi_schemas import validate, validation_errors

COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"
ACCOUNTING = "Codat-Accounting-2023.json"
PLATFORM = "Codat-Platform.json"

PUSH_OPERATION = {
    "companyId": COMPANY,
    "pushOperationKey": "c3a4ff16-7bdf-4b30-9d0c-4f3b0ea0b0b1",
    "dataConnectionKey": CONNECTION,
    "requestedOnUtc": "2024-05-01T10:00:00Z",
    "status": "Pending",
    "statusCode": 200,
}

DIRECT_COST: dict[str, Any] = {
    "reference": "EXP-42",
    "note": "Train to Leeds",
    "contactRef": {"id": "SUP-1", "dataType": "suppliers"},
    "issueDate": "2024-05-01T00:00:00",
    "currency": "GBP",
    "currencyRate": None,
    "lineItems": [
        {
            "description": "Return ticket",
            "unitAmount": Decimal("10.10"),
            "quantity": Decimal("3"),
            "subTotal": Decimal("30.30"),
            "taxAmount": Decimal("6.06"),
            "totalAmount": Decimal("36.36"),
            "accountRef": {"id": "400"},
            "taxRateRef": {"id": "INPUT2"},
        }
    ],
    "paymentAllocations": [
        {
            "payment": {"accountRef": {"id": "090"}, "currency": "GBP", "paidOnDate": "2024-05-01T00:00:00",
                        "totalAmount": Decimal("36.36")},
            "allocation": {"currency": "GBP", "allocatedOnDate": "2024-05-01T00:00:00",
                           "totalAmount": Decimal("36.36")},
        }
    ],
    "subTotal": Decimal("30.30"),
    "taxAmount": Decimal("6.06"),
    "totalAmount": Decimal("36.36"),
}

ACCOUNT: dict[str, Any] = {
    "nominalCode": "4100",
    "name": "Travel",
    "description": "Staff travel",
    "fullyQualifiedCategory": "Expense.Operating",
    "fullyQualifiedName": "Expense.Operating.Travel",
    "currency": "GBP",
    "currentBalance": Decimal("0.00"),
    "type": "Expense",
    "status": "Active",
    "isBankAccount": False,
}


@pytest.fixture
def captured() -> tuple[CodatClient, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("/webhooks"):
            return httpx.Response(201, json={"id": "w1", "url": "u", "eventTypes": []})
        if "/push/" in request.url.path:
            return httpx.Response(200, json=PUSH_OPERATION)
        return httpx.Response(200, json={"id": CONNECTION})

    client = CodatClient("k", transport=httpx.MockTransport(handler), sleep=lambda s: None)
    yield client, requests
    client.close()


def _sent(request: httpx.Request) -> Any:
    return json.loads(request.content)  # floats, as a plain JSON reader would see them


def test_direct_cost_body_conforms(captured) -> None:
    client, requests = captured
    client.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, timeout_in_minutes=60)
    body = _sent(requests[0])
    assert body["totalAmount"] == 36.36 and body["lineItems"][0]["quantity"] == 3
    validate(body, ACCOUNTING, "DirectCost", strict=True)


def test_account_body_conforms(captured) -> None:
    client, requests = captured
    client.push_account(COMPANY, CONNECTION, ACCOUNT)
    validate(_sent(requests[0]), ACCOUNTING, "Account", strict=True)


def test_webhook_consumer_body_conforms(captured) -> None:
    client, requests = captured
    client.create_webhook_consumer(
        "https://desk.example/webhooks/codat",
        ["directCosts.write.successful", "directCosts.write.unsuccessful", "connection.disconnected"],
        ["codatdesk:workspace-1"],
    )
    client.create_webhook_consumer("https://desk.example/webhooks/codat", ["connection.connected"])
    for request in requests:
        validate(_sent(request), PLATFORM, "WebhookConsumer/definitions/webhookConsumerPrototype", strict=True)


def test_connection_status_body_conforms(captured) -> None:
    client, requests = captured
    client.patch_connection(COMPANY, CONNECTION, "Unlinked")
    validate(_sent(requests[0]), PLATFORM, "UpdateConnectionStatus", strict=True)


def test_the_conformance_check_can_fail(captured) -> None:
    # Money serialized as strings (or a missing required field) must be caught.
    client, requests = captured
    broken = {**DIRECT_COST, "totalAmount": "36.36"}
    del broken["currency"]
    client.push_direct_cost(COMPANY, CONNECTION, broken)
    problems = validation_errors(_sent(requests[0]), ACCOUNTING, "DirectCost")
    assert any("totalAmount" in p for p in problems) and any("currency" in p for p in problems)
