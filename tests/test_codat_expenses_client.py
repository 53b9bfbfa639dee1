"""ExpensesApi (codatdesk/codat/expenses.py) against the sandbox: every call it makes is an operation of
Codat-Sync-Expenses.json (path, headers, body), and its typed answers read the sandbox's conforming bodies."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk import integrations
from codatdesk.codat import CodatClient
from codatdesk.codat.errors import CodatError
from codatdesk.codat.expenses import ExpensesApi, multipart_file
from codatdesk.sandbox import Sandbox, SandboxConfig
from codatdesk.sandbox.multipart import form_files
from tests.test_request_conformance import request_problems
from tests.test_sandbox_expenses import claim, codes, expense, supplier_id


class Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(push_delay=0.02))
    yield sandbox
    sandbox.shutdown()


@pytest.fixture
def recording(sb: Sandbox) -> Recording:
    return Recording(sb.transport())


@pytest.fixture
def api(sb: Sandbox, recording: Recording) -> Iterator[ExpensesApi]:
    with CodatClient(sb.api_key, "http://codat.sandbox", transport=recording, sleep=lambda s: None) as client:
        yield ExpensesApi(client)


def conforms(request: httpx.Request, api_key: str) -> None:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # The shared check reads JSON bodies; a receipt is one multipart part named "file" (AttachmentUpload).
        parts = form_files(request.headers["content-type"], request.content)
        assert list(parts) == ["file"] and parts["file"][0]
        uuid.UUID(request.headers["idempotency-key"])
        request = httpx.Request(request.method, request.url, headers={
            k: v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")})
    operation, problems = request_problems(request, api_key)
    assert operation is not None and not problems, problems
    assert operation.spec_file in ("Codat-Sync-Expenses.json", "Codat-Accounting-2023.json")


def exercise(sb: Sandbox, api: ExpensesApi) -> dict[str, Any]:
    """Every public call of ExpensesApi once, as the Expenses route would use them (QuickBooks Online)."""
    company_id, _ = sb.add_company("Client test", integrations.QUICKBOOKS_ONLINE)
    seen: dict[str, Any] = {}
    seen["create_partner_connection"] = api.create_partner_connection(company_id)
    ids = codes(sb, company_id)
    customer = next(iter(sb.expenses.ledger(company_id).customers))
    seen["set_config"] = api.set_config(company_id, bank_account_id=ids["090"], supplier_id=supplier_id(sb, company_id),
                                        customer_id=customer)
    seen["get_config"] = api.get_config(company_id)
    seen["mapping_options"] = api.mapping_options(company_id)
    seen["list_tracking_categories"] = api.list_tracking_categories(company_id)
    payment = expense(sb, company_id)
    payment["lines"][0].update(netAmount=Decimal("10.10"), taxAmount=Decimal("2.02"))
    sync_id = api.create_expense_transactions(company_id, [payment])
    assert sb.wait_idle(10)
    seen["create_expense_transactions"] = sync_id
    seen["sync_status"] = api.sync_status(company_id, sync_id)
    seen["sync_transactions"] = api.sync_transactions(company_id, sync_id)
    seen["sync_transaction"] = api.sync_transaction(company_id, sync_id, payment["id"])
    seen["upload_attachment"] = api.upload_attachment(company_id, sync_id, payment["id"], "receipt.pdf", b"%PDF-1.4 x",
                                                      "application/pdf")
    update = {k: v for k, v in payment.items() if k != "id"}
    seen["update_expense_transaction"] = api.update_expense_transaction(company_id, payment["id"], update)
    seen["create_reimbursable_expense_transactions"] = api.create_reimbursable_expense_transactions(
        company_id, [claim(sb, company_id)])
    assert sb.wait_idle(10)
    seen["latest_sync"] = api.latest_sync(company_id)
    seen["last_successful_sync"] = api.last_successful_sync(company_id)
    seen["list_syncs"] = api.list_syncs(company_id)
    seen["company_id"] = company_id
    return seen


def public_calls() -> set[str]:
    return {name for name, _ in inspect.getmembers(ExpensesApi, inspect.isfunction) if not name.startswith("_")}


def test_every_call_is_an_operation_of_codats_specs(sb: Sandbox, api: ExpensesApi, recording: Recording) -> None:
    seen = exercise(sb, api)
    assert public_calls() <= set(seen), f"calls not exercised: {sorted(public_calls() - set(seen))}"
    assert len(recording.sent) >= len(public_calls())
    for request in recording.sent:
        conforms(request, sb.api_key)


def test_the_check_can_fail(sb: Sandbox) -> None:
    bad = httpx.Request("POST", "http://codat.sandbox/companies/c/sync/expenses/expense-transactions",
                        json={"items": []}, headers={"Idempotency-Key": str(uuid.uuid4())})
    with pytest.raises(AssertionError):
        conforms(bad, sb.api_key)


def test_typed_answers_carry_the_outcome_and_decimal_money(sb: Sandbox, api: ExpensesApi) -> None:
    seen = exercise(sb, api)
    assert seen["sync_status"].successful and seen["sync_status"].meaning == "Success (data written)"
    (item,) = seen["sync_transactions"]
    assert item.completed and seen["sync_transaction"] == item
    assert [s.code for s in seen["list_syncs"]] == [2000, 2000, 2000]
    line = seen["mapping_options"]["taxRates"][0]
    assert isinstance(line["effectiveTaxRate"], (int, Decimal))
    (booked, _claim) = sb.expenses.bookings(seen["company_id"])
    assert booked["totalAmount"] == Decimal("12.12") and booked["attachments"][0]["fileName"] == "receipt.pdf"


def test_a_resent_transaction_reads_as_a_duplicate(sb: Sandbox, api: ExpensesApi) -> None:
    company_id, _ = sb.add_company("Duplicate", integrations.XERO)
    api.create_partner_connection(company_id)
    payment = expense(sb, company_id)
    api.create_expense_transactions(company_id, [payment])
    assert sb.wait_idle(10)
    second = api.create_expense_transactions(company_id, [payment])
    assert sb.wait_idle(10)
    status = api.sync_status(company_id, second)
    (item,) = api.sync_transactions(company_id, second)
    assert status.code == 5080 and item.duplicate and item.failed and not status.successful
    assert len(sb.expenses.bookings(company_id)) == 1


def test_update_refused_by_codat_raises_with_its_reason(sb: Sandbox, api: ExpensesApi) -> None:
    company_id, _ = sb.add_company("No update", integrations.XERO)
    api.create_partner_connection(company_id)
    refund = expense(sb, company_id, type="Refund")
    api.create_expense_transactions(company_id, [refund])
    assert sb.wait_idle(10)
    with pytest.raises(CodatError) as raised:
        api.update_expense_transaction(company_id, refund["id"], {k: v for k, v in refund.items() if k != "id"})
    assert raised.value.status == 422 and "Payment" in str(raised.value)


def test_multipart_body_is_stable_for_a_resend() -> None:
    first = multipart_file("r.pdf", b"abc", "application/pdf", boundary="b1")
    assert first == multipart_file("r.pdf", b"abc", "application/pdf", boundary="b1")
    assert form_files(first[1], first[0]) == {"file": ("r.pdf", b"abc")}
