"""CodatClient against the local Codat sandbox: every method in-process, once over loopback."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal
from typing import Any

import pytest

from codatdesk.codat import (
    CodatAuthError,
    CodatClient,
    CodatNotFound,
    CodatServerError,
    PushOutcomeUnknown,
)
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from tests.conftest import wait_until


@pytest.fixture
def sb() -> Sandbox:
    box = Sandbox(SandboxConfig(push_delay=0.05))
    yield box
    box.shutdown()


@pytest.fixture
def client(sb: Sandbox) -> CodatClient:
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=sb.transport(), sleep=lambda s: None) as c:
        yield c


def _direct_cost(client: CodatClient, sb: Sandbox) -> dict[str, Any]:
    accounts = client.list_accounts(sb.company_id)
    expense = next(a for a in accounts if not a.get("isBankAccount") and str(a.get("fullyQualifiedCategory", "")).startswith("Expense"))
    bank = client.list_bank_accounts(sb.company_id, sb.connection_id)[0]
    tax = next(t for t in client.list_tax_rates(sb.company_id) if Decimal(str(t.get("effectiveTaxRate", 0))) == 20)
    supplier = client.list_suppliers(sb.company_id)[0]
    return {
        "issueDate": "2024-05-01T00:00:00",
        "currency": "GBP",
        "reference": "EXP-1",
        "contactRef": {"id": supplier["id"], "dataType": "suppliers"},
        "lineItems": [{
            "description": "Train",
            "unitAmount": Decimal("10.10"),
            "quantity": Decimal("1"),
            "subTotal": Decimal("10.10"),
            "taxAmount": Decimal("2.02"),
            "totalAmount": Decimal("12.12"),
            "accountRef": {"id": expense["id"]},
            "taxRateRef": {"id": tax["id"]},
        }],
        "paymentAllocations": [{
            "payment": {"accountRef": {"id": bank["id"]}, "currency": "GBP", "totalAmount": Decimal("12.12")},
            "allocation": {"currency": "GBP", "totalAmount": Decimal("12.12")},
        }],
        "subTotal": Decimal("10.10"),
        "taxAmount": Decimal("2.02"),
        "totalAmount": Decimal("12.12"),
    }


def test_every_method_against_the_sandbox(client: CodatClient, sb: Sandbox) -> None:
    assert sb.company_id in [c["id"] for c in client.list_companies()]
    assert client.get_company(sb.company_id)["id"] == sb.company_id
    assert sb.connection_id in [c["id"] for c in client.list_connections(sb.company_id)]
    assert client.get_connection(sb.company_id, sb.connection_id)["status"] == "Linked"

    options = client.push_options(sb.company_id, sb.connection_id, "directCosts")
    assert options.get("type") == "Object" and "properties" in options
    assert client.list_accounts(sb.company_id) and client.list_suppliers(sb.company_id)
    assert client.list_tax_rates(sb.company_id) and client.list_bank_accounts(sb.company_id, sb.connection_id)

    operation = client.push_direct_cost(sb.company_id, sb.connection_id, _direct_cost(client, sb), timeout_in_minutes=5)
    key = operation["pushOperationKey"]
    assert operation["status"] == "Pending" and operation["dataType"] == "directCosts"
    done = wait_until(lambda: (op := client.get_push_operation(sb.company_id, key))["status"] != "Pending" and op)
    assert done["status"] == "Success", done
    assert key in [op["pushOperationKey"] for op in client.list_push_operations(sb.company_id)]

    account_op = client.push_account(sb.company_id, sb.connection_id, {
        "nominalCode": "4999", "name": "Sandbox Travel", "fullyQualifiedCategory": "Expense.Overhead",
        "type": "Expense", "status": "Active", "currency": "GBP", "isBankAccount": False,
    })
    assert account_op["dataType"] == "chartOfAccounts"
    wait_until(lambda: client.get_push_operation(sb.company_id, account_op["pushOperationKey"])["status"] == "Success")

    consumer = client.create_webhook_consumer("http://127.0.0.1:9/webhooks/codat", ["directCosts.write.successful"],
                                              ["codatdesk:test"])
    assert consumer["id"] in [c["id"] for c in client.list_webhook_consumers()]
    client.delete_webhook_consumer(consumer["id"])
    assert consumer["id"] not in [c["id"] for c in client.list_webhook_consumers()]

    unlinked = client.patch_connection(sb.company_id, sb.connection_id, "Unlinked")
    assert unlinked["status"] == "Unlinked"


def test_push_operation_history_paging(sb: Sandbox) -> None:
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=sb.transport(), sleep=lambda s: None,
                     page_size=2) as small_pages:
        body = _direct_cost(small_pages, sb)
        keys = {small_pages.push_direct_cost(sb.company_id, sb.connection_id, body)["pushOperationKey"] for _ in range(5)}
        listed = small_pages.list_push_operations(sb.company_id)
        assert keys <= {op["pushOperationKey"] for op in listed}
        assert len(listed) == len({op["pushOperationKey"] for op in listed})  # no page read twice


def test_sandbox_errors_map_to_typed_exceptions(client: CodatClient, sb: Sandbox) -> None:
    with pytest.raises(CodatNotFound):
        client.get_company("00000000-0000-0000-0000-000000000000")
    with CodatClient("not-the-key", "http://codat.sandbox", transport=sb.transport(), sleep=lambda s: None) as wrong:
        with pytest.raises(CodatAuthError):
            wrong.list_companies()


def test_faults_reads_recover_and_pushes_are_resent_only_under_their_key(sb: Sandbox) -> None:
    # The sandbox answers a share of requests 500 or 503 before any side effect.
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=sb.transport(), sleep=lambda s: None) as steady:
        body = _direct_cost(steady, sb)
    transport = sb.transport()
    sb.config.error_rate = 0.5
    keys: list[str] = []
    original = transport.handle_request

    def handle(request):  # every push request that reaches the sandbox, by its Idempotency-Key
        if request.method == "POST":
            keys.append(request.headers["Idempotency-Key"])
        return original(request)

    transport.handle_request = handle  # type: ignore[method-assign]
    before = len(sb.push_operations)
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=transport, sleep=lambda s: None,
                     max_retries=2) as flaky:
        for _ in range(3):  # GETs ride out the faults through retries
            assert flaky.get_company(sb.company_id)["id"] == sb.company_id
        accepted, unknown, refused = 0, 0, 0
        for _ in range(20):
            try:
                flaky.push_direct_cost(sb.company_id, sb.connection_id, body)
                accepted += 1
            except PushOutcomeUnknown as exc:
                assert exc.status == 500 and exc.data_type == "directCosts"
                unknown += 1
            except CodatServerError as exc:
                assert exc.status == 503 and exc.processed is False
                refused += 1
    # Codat keeps a 5xx under the key (idempotency.md): the resends replayed it, each under its push's key.
    assert len(keys) == 20 + 2 * (unknown + refused) and len(set(keys)) == 20
    assert accepted and unknown and refused
    # The sandbox failed before any side effect, so only the accepted pushes exist.
    assert len(sb.push_operations) - before == accepted


def test_rate_limit_headers_are_tracked(client: CodatClient, sb: Sandbox) -> None:
    client.list_companies()
    state = client.rate_limit
    assert state.updated_at is not None and state.remaining is not None


def test_over_a_real_loopback_socket(sb: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    server = SandboxServer(sb, port=0)
    server.start()
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        with CodatClient(sb.api_key, server.base_url, timeout=5.0, sleep=lambda s: None) as client:
            assert client.get_company(sb.company_id)["id"] == sb.company_id
            operation = client.push_direct_cost(sb.company_id, sb.connection_id, _direct_cost(client, sb))
            wait_until(lambda: client.get_push_operation(sb.company_id, operation["pushOperationKey"])["status"] == "Success")
    finally:
        server.stop()
    b64 = base64.b64encode(sb.api_key.encode()).decode()
    texts = [record.getMessage() for record in caplog.records]
    assert any("codatdesk.codat" in record.name for record in caplog.records)
    for text in texts:
        assert sb.api_key not in text and b64 not in text
