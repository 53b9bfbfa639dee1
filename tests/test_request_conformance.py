"""Every request CodatClient can send is an operation of Codat's OpenAPI: path, query parameters,
headers and body. The bodies are the ones the engine builds from real expenses (the example files,
imported and pushed against the sandbox), plus generated ones (Hypothesis).

Sources: the trimmed specs in ``tests/openapi/`` (Accounting 2023, Platform, Sync for Expenses);
``Idempotency-Key`` from codat-docs ``docs/using-the-api/write-data/idempotency.md`` (POST and PATCH
only, a unique GUID), since none of those specs declares the header on the operations we call.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from codatdesk.codat import CodatClient
from codatdesk.engine.pusher import build_direct_cost
from codatdesk.engine.reference import Resolution
from codatdesk.money import currency_exponent
from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses
from tests.openapi_schemas import (
    Operation,
    _deref,
    matching_operations,
    operations,
    security_scheme,
    validation_errors,
)
from tests.test_codat_client_conformance import ACCOUNT, DIRECT_COST

API_KEY = "conformance-key"
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"
PUSH_KEY = "c3a4ff16-7bdf-4b30-9d0c-4f3b0ea0b0b1"
RECORD = "0b5f3a1e-4c3d-4a53-9d2e-6f1a2b3c4d5e"
ROOT = Path(__file__).resolve().parents[1]


# -- what a request must be ----------------------------------------------------------------------

def _typed(value: str, schema_node: dict) -> Any:
    """A query string value as the JSON value its schema describes (integers, booleans)."""
    kind = schema_node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        return int(value) if value.lstrip("-").isdigit() else value
    if "boolean" in kinds:
        return {"true": True, "false": False}.get(value, value)
    return value


# Query parameters Codat documents for an operation outside the spec copy that holds it, each with
# its source. ``allowSyncOnPushComplete`` ("Allow a sync upon push completion", boolean, default
# true) is declared on every create call of the current Sync-Expenses spec
# (tests/openapi/Codat-Sync-Expenses.json) and sent on push/directCosts by Codat's 2026 SDKs
# (codat-api-notes, "Query parameters on create calls"); the 2023 Accounting spec predates it.
DOCUMENTED_ELSEWHERE = {
    ("POST", "/companies/{companyId}/connections/{connectionId}/push/directCosts", "allowSyncOnPushComplete"):
        {"type": "boolean"},
}


def _parameter_problems(operation: Operation, location: str, sent: dict[str, str]) -> list[str]:
    declared = operation.declared(location)
    problems = [f"{location} parameter {name!r} is required and was not sent"
                for name, p in declared.items() if p.required and name not in sent]
    for name, value in sent.items():
        param = declared.get(name)
        elsewhere = DOCUMENTED_ELSEWHERE.get((operation.method.upper(), operation.template, name))
        if param is None and elsewhere is not None:
            problems += [f"{location} parameter {name}={value!r}: {p}"
                         for p in (e.message for e in Draft202012Validator(elsewhere).iter_errors(_typed(value, elsewhere)))]
            continue
        if param is None:
            problems.append(f"{location} parameter {name!r} is not declared by the operation")
            continue
        _, node = _deref(operation.spec_file, param.schema)
        typed = _typed(value, node) if location != "path" else value
        problems += [f"{location} parameter {name}={value!r}: {p}"
                     for p in validation_errors(typed, operation.spec_file, param.schema)]
    return problems


def _header_problems(operation: Operation, request: httpx.Request, api_key: str) -> list[str]:
    problems: list[str] = []
    for scheme_name in operation.security:
        scheme = security_scheme(operation.spec_file, scheme_name)
        assert scheme["type"] == "apiKey" and scheme["in"] == "header", scheme
        value = request.headers.get(scheme["name"], "")
        # The scheme's description: "Basic" followed by a space and the API key, base64 encoded.
        if value != "Basic " + base64.b64encode(api_key.encode()).decode():
            problems.append(f"{scheme['name']} header is not 'Basic <base64 API key>': {value[:12]!r}...")
    sent = {name.lower(): value for name, value in request.headers.items()}
    problems += _parameter_problems(operation, "header", {
        name: value for name, value in sent.items() if name in operation.declared("header")})
    # codat-docs docs/using-the-api/write-data/idempotency.md: POST and PATCH only, one unique GUID. We send it on
    # every POST (each creates something), never on other methods.
    key = sent.get("idempotency-key")
    if request.method == "POST":
        try:
            uuid.UUID(key or "")
        except ValueError:
            problems.append(f"a POST must carry an Idempotency-Key GUID, got {key!r}")
    elif key is not None and request.method != "PATCH":
        problems.append(f"Idempotency-Key is for POST and PATCH only, sent on {request.method}")
    if request.content and sent.get("content-type") != "application/json" and not _is_multipart(request):
        problems.append(f"a JSON body needs Content-Type application/json, got {sent.get('content-type')!r}")
    return problems


def _is_multipart(request: httpx.Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data; boundary=")


def _multipart_problems(operation: Operation, request: httpx.Request) -> list[str]:
    """An attachment upload: the operation takes ``multipart/form-data`` and the body has its ``file`` part
    (Accounting spec ``upload-*-attachment``; the field name from Codat's SDKs, codat-api-notes.md)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    spec = json.loads((ROOT / "tests" / "openapi" / operation.spec_file).read_text(encoding="utf-8"))
    declared = spec["paths"][operation.template][operation.method.lower()].get("requestBody", {}).get("content", {})
    if "multipart/form-data" not in declared:
        return ["a multipart body was sent to an operation that takes none"]
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content)
    names = [part.get_param("name", header="content-disposition") for part in message.iter_parts()]
    return [] if names == ["file"] else [f"a multipart upload needs one 'file' part, got {names}"]


def _body_problems(operation: Operation, request: httpx.Request) -> list[str]:
    if not request.content:
        return []
    if _is_multipart(request):
        return _multipart_problems(operation, request)
    if operation.body_schema is None:
        return ["a body was sent to an operation that takes none"]
    body = json.loads(request.content)  # as a plain JSON reader (Codat) sees it
    return validation_errors(body, operation.spec_file, operation.body_schema, strict=True)


def request_problems(request: httpx.Request, api_key: str = API_KEY) -> tuple[Operation | None, list[str]]:
    """The operation the request conforms to, or the problems found against every candidate."""
    path = request.url.raw_path.decode().split("?")[0]
    candidates = matching_operations(request.method, path)
    if not candidates:
        return None, [f"{request.method} {path} is no operation of {', '.join(sorted({op.spec_file for op in operations()}))}"]
    query: dict[str, str] = {}
    for name, value in request.url.params.multi_items():
        if name in query:
            return candidates[0], [f"query parameter {name!r} sent twice"]
        query[name] = value
    found: list[str] = []
    for operation in candidates:
        problems = (_parameter_problems(operation, "path", operation.path_values(path) or {})
                    + _parameter_problems(operation, "query", query)
                    + _header_problems(operation, request, api_key)
                    + _body_problems(operation, request))
        if not problems:
            return operation, []
        found += [f"[{operation}] {p}" for p in problems]
    return None, found


# -- every public client method that sends, through a MockTransport ----------------------------

PUSH_OPERATION = {"companyId": COMPANY, "pushOperationKey": PUSH_KEY, "dataConnectionKey": CONNECTION,
                  "requestedOnUtc": "2026-11-01T10:00:00Z", "status": "Pending", "statusCode": 202}


def answer(request: httpx.Request) -> httpx.Response:
    """A plausible Codat answer to any request the client sends."""
    path = request.url.path
    if request.method == "DELETE":
        return httpx.Response(204)
    if request.method == "POST" and "/push/" in path:
        return httpx.Response(200, json=PUSH_OPERATION)
    if request.method == "POST" and path == "/webhooks":
        return httpx.Response(201, json={"id": RECORD, "url": "https://x", "eventTypes": []})
    if "page" in request.url.params:
        links = {"self": {"href": path}, "current": {"href": str(request.url)}}
        return httpx.Response(200, json={"results": [{"id": RECORD, "pushOperationKey": PUSH_KEY}], "pageNumber": 1,
                                         "pageSize": int(request.url.params["pageSize"]), "totalResults": 1,
                                         "_links": links})
    if path == "/webhooks":
        return httpx.Response(200, json={"results": []})
    if path.endswith("/push/" + PUSH_KEY):
        return httpx.Response(200, json=PUSH_OPERATION)
    return httpx.Response(200, json={"id": RECORD})


# One or more calls per public method; a method that sends requests and is missing here fails
# test_every_public_method_has_a_conformance_case.
CASES: dict[str, list[Callable[[CodatClient], Any]]] = {
    "list_companies": [lambda c: c.list_companies()],
    "get_company": [lambda c: c.get_company(COMPANY)],
    "update_company_tags": [lambda c: c.update_company_tags(COMPANY, {"region": "uk", "codatdesk-1234": "served"})],
    "list_connections": [lambda c: c.list_connections(COMPANY)],
    "get_connection": [lambda c: c.get_connection(COMPANY, CONNECTION)],
    "patch_connection": [lambda c: c.patch_connection(COMPANY, CONNECTION, "Unlinked")],
    "push_direct_cost": [lambda c: c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST),
                         lambda c: c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, timeout_in_minutes=60,
                                                      idempotency_key=str(uuid.uuid4()), resend=True),
                         lambda c: c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST,
                                                      allow_sync_on_push_complete=False)],
    "push_supplier": [lambda c: c.push_supplier(COMPANY, CONNECTION, {"supplierName": "Nobody Ltd", "status": "Active"}),
                      lambda c: c.push_supplier(COMPANY, CONNECTION, {"supplierName": "Nobody Ltd", "status": "Active"},
                                                idempotency_key=str(uuid.uuid4()), resend=True)],
    "queue_sync": [lambda c: c.queue_sync(COMPANY, "directCosts"), lambda c: c.queue_sync(COMPANY, "chartOfAccounts")],
    "push_account": [lambda c: c.push_account(COMPANY, CONNECTION, ACCOUNT),
                     lambda c: c.push_account(COMPANY, CONNECTION, ACCOUNT, idempotency_key=str(uuid.uuid4()))],
    "push_options": [lambda c: c.push_options(COMPANY, CONNECTION, "directCosts"),
                     lambda c: c.push_options(COMPANY, CONNECTION, "chartOfAccounts")],
    "get_push_operation": [lambda c: c.get_push_operation(COMPANY, PUSH_KEY)],
    "get_direct_cost": [lambda c: c.get_direct_cost(COMPANY, CONNECTION, RECORD)],
    "list_push_operations": [lambda c: c.list_push_operations(COMPANY),
                             lambda c: c.list_push_operations(COMPANY, query="dataType=directCosts",
                                                              order_by="-requestedOnUtc")],
    "get_company_info": [lambda c: c.get_company_info(COMPANY)],
    "list_accounts": [lambda c: c.list_accounts(COMPANY)],
    "list_suppliers": [lambda c: c.list_suppliers(COMPANY)],
    "list_tax_rates": [lambda c: c.list_tax_rates(COMPANY)],
    "list_tracking_categories": [lambda c: c.list_tracking_categories(COMPANY)],
    "list_bank_accounts": [lambda c: c.list_bank_accounts(COMPANY, CONNECTION)],
    "list_webhook_consumers": [lambda c: c.list_webhook_consumers()],
    "create_webhook_consumer": [
        lambda c: c.create_webhook_consumer("https://desk.example/webhooks/codat",
                                            ["directCosts.write.successful"], [f"codatdesk:{COMPANY}"]),
        lambda c: c.create_webhook_consumer("https://desk.example/webhooks/codat", ["connection.connected"])],
    "delete_webhook_consumer": [lambda c: c.delete_webhook_consumer(RECORD)],
    "upload_direct_cost_attachment": [
        lambda c: c.upload_direct_cost_attachment(COMPANY, CONNECTION, RECORD, "taxi.png", "image/png", b"\x89PNG..."),
        lambda c: c.upload_direct_cost_attachment(COMPANY, CONNECTION, RECORD, "hotel.pdf", "application/pdf",
                                                  b"%PDF-1.4", idempotency_key=str(uuid.uuid4()))],
    "upload_attachment": [lambda c: c.upload_attachment(
        f"/companies/{COMPANY}/connections/{CONNECTION}/push/directCosts/{RECORD}/attachment",
        "r.pdf", "application/pdf", b"%PDF-1.4")],
}
NOT_REQUESTS = {"close", "interrupt"}  # public methods that send nothing


def requesting_methods(cls: type) -> set[str]:
    """Public methods of ``cls`` (properties and dunders aside) that may send a request."""
    return {name for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")} - NOT_REQUESTS


def capture(call: Callable[[CodatClient], Any]) -> list[httpx.Request]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return answer(request)

    client = CodatClient(API_KEY, transport=httpx.MockTransport(handler), sleep=lambda s: None, page_size=50)
    try:
        call(client)
    finally:
        client.close()
    return sent


def test_every_public_method_has_a_conformance_case():
    missing = requesting_methods(CodatClient) - set(CASES)
    assert not missing, f"CodatClient methods without a conformance case in CASES: {sorted(missing)}"
    assert not set(CASES) - requesting_methods(CodatClient), "CASES names methods CodatClient no longer has"


def test_a_new_method_without_a_case_is_noticed():
    class Grown(CodatClient):
        def list_invoices(self, company_id: str) -> list:
            return self._paged(f"/companies/{company_id}/data/invoices")

    assert requesting_methods(Grown) - set(CASES) == {"list_invoices"}


@pytest.mark.parametrize("name,index", [(n, i) for n, calls in CASES.items() for i in range(len(calls))])
def test_each_request_is_an_operation_of_codats_specs(name, index):
    requests = capture(CASES[name][index])
    assert requests, f"{name} sent nothing"
    for request in requests:
        operation, problems = request_problems(request)
        assert not problems, f"{name}: {request.method} {request.url}\n  " + "\n  ".join(problems)
        assert operation is not None


def test_the_queries_we_send_are_declared_and_typed():
    """The parameters the issue names are declared with the types we send (timeoutInMinutes integer,
    page/pageSize integers in range, query/orderBy strings)."""
    (push,) = capture(lambda c: c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, timeout_in_minutes=60))
    assert dict(push.url.params) == {"timeoutInMinutes": "60"}
    history = capture(lambda c: c.list_push_operations(COMPANY, query="dataType=directCosts", order_by="-requestedOnUtc"))
    assert {"page", "pageSize", "query", "orderBy"} <= set(history[0].url.params)
    operation, problems = request_problems(history[0])
    assert not problems and {"page", "pageSize", "query", "orderBy"} <= set(operation.declared("query"))


def test_no_spec_we_copy_declares_idempotency_key_on_the_operations_we_call():
    """Codat's docs (idempotency.md) accept the header on every POST and PATCH, but these specs do not
    declare it; the header check above therefore takes its rule from the docs. If a refreshed spec
    starts declaring it, its schema is checked too (``_header_problems``): update this test then."""
    ours = {(op.method, op.template) for name in CASES for i in range(len(CASES[name]))
            for request in capture(CASES[name][i]) for op in [request_problems(request)[0]]}
    declaring = [op for op in operations() if (op.method, op.template) in ours and "idempotency-key" in op.declared("header")]
    assert declaring == []


@pytest.mark.parametrize("mutate,expected", [
    (lambda r: httpx.Request("GET", f"https://api.codat.io/companies/{COMPANY}/data/invoicez",
                             headers=r.headers), "is no operation"),
    (lambda r: httpx.Request("POST", r.url.copy_add_param("dryRun", "false"), headers=r.headers,
                             content=r.content), "'dryRun' is not declared"),
    (lambda r: httpx.Request("POST", r.url.copy_add_param("allowSyncOnPushComplete", "no"), headers=r.headers,
                             content=r.content), "allowSyncOnPushComplete='no'"),
    (lambda r: httpx.Request("POST", r.url.copy_set_param("timeoutInMinutes", "soon"), headers=r.headers,
                             content=r.content), "timeoutInMinutes='soon'"),
    (lambda r: httpx.Request("POST", r.url, headers={k: v for k, v in r.headers.items() if k != "idempotency-key"},
                             content=r.content), "Idempotency-Key GUID"),
    (lambda r: httpx.Request("POST", r.url, headers={**r.headers, "Authorization": "Bearer x"}, content=r.content),
     "Authorization header"),
    (lambda r: httpx.Request("POST", r.url, headers=r.headers,
                             content=r.content.replace(b'"totalAmount"', b'"totalAmmount"', 1)), "totalAmmount"),
    (lambda r: httpx.Request("POST", str(r.url).replace(COMPANY, "not-a-uuid"), headers=r.headers,
                             content=r.content), "companyId='not-a-uuid'"),
])
def test_the_check_can_fail(mutate, expected):
    (push,) = capture(lambda c: c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, timeout_in_minutes=60))
    assert request_problems(push)[1] == []
    _, problems = request_problems(mutate(push))
    assert any(expected in p for p in problems), problems


# -- bodies the engine builds from real expenses -----------------------------------------------

class Recorder(httpx.BaseTransport):
    """Forwards to the sandbox over loopback and keeps every request."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


EXAMPLE_FILES = ["resources/sample-expenses.csv", "resources/examples/expenses-uk.csv",
                 "resources/examples/expenses-de.csv", "resources/examples/expenses.xlsx",
                 "resources/examples/expenses-fr-text.xlsx"]
UNFINISHED = (S.IN_PROGRESS, S.WAITING)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_the_bodies_the_engine_builds_from_the_example_files_conform(tmp_path, name):
    harness = Harness(tmp_path, SandboxConfig(push_delay=0.05, seed=7))
    harness.start_sandbox()
    try:
        core = harness.start_core()
        recorder = Recorder()
        # Every request from here on goes through the recorder: API key as the sandbox expects it.
        core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url,
                                                   transport=recorder)
        core.reset_client()
        report = core.import_file(ROOT / name, harness.sandbox.company_id)
        assert report.ok, report.errors
        harness.map_unknown_suppliers()
        batch = core.push([e.id for e in expenses(core)])
        assert batch.wait(30)
        wait_until(lambda: not any(S(e.status) in UNFINISHED for e in expenses(core)), 30, message="final")
        posts = [r for r in recorder.requests if r.method == "POST"]
        pushes = [r for r in posts if "/push/" in r.url.path]
        for request in posts:  # the sync queued after the batch, too
            _, problems = request_problems(request, harness.sandbox.api_key)
            assert not problems, f"{request.method} {request.url}\n  " + "\n  ".join(problems)
        checked = {"directCosts": 0, "accounts": 0, "currencyRate": 0}
        for request in pushes:
            _, problems = request_problems(request, harness.sandbox.api_key)
            assert not problems, f"{request.method} {request.url}\n  " + "\n  ".join(problems)
            kind = request.url.path.rsplit("/", 1)[-1]
            checked[kind] += 1
            checked["currencyRate"] += "currencyRate" in json.loads(request.content)
        sent = sum(1 for e in expenses(core) if S(e.status) is S.COMPLETE)
        assert sent and checked["directCosts"] >= sent, (checked, [(e.id, e.status, e.status_detail) for e in expenses(core)])
        if name != "resources/sample-expenses.csv":
            assert checked["currencyRate"] >= 1, checked  # the EUR row, with its rate
        else:
            assert checked["accounts"] >= 1, checked  # accounts created first for rows that need them
        gets = [r for r in recorder.requests if r.method != "POST"]
        for request in gets:  # the reads of the same run (reference lists, push operations, connection)
            assert not request_problems(request, harness.sandbox.api_key)[1], request.url
    finally:
        harness.stop()


# -- generated expenses ----------------------------------------------------------------------

class AllResolved:
    """Every reference resolved: what is under test is the body's shape, not the reference rules."""

    @staticmethod
    def resolve(expense: Expense, line_one_tax: Decimal | None = None) -> Resolution:
        return Resolution(RECORD, False, "090", "INPUT2", "SUP-1")


CURRENCIES = ["GBP", "EUR", "USD", "JPY", "KWD", "BHD", "CHF", "SEK"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2000)


@st.composite
def generated_expenses(draw) -> Expense:
    currency = draw(st.sampled_from(CURRENCIES))
    places = draw(st.integers(0, max(0, currency_exponent(currency))))
    amount = st.integers(0, 10**12).map(lambda n: Decimal(n).scaleb(-places))
    net, tax = draw(amount), draw(amount)
    rate = None if currency == "GBP" else draw(st.one_of(st.none(), st.decimals(
        min_value=Decimal("0.000001"), max_value=Decimal(100000), places=6, allow_nan=False)))
    return Expense(company_id=COMPANY, expense_date=draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
                   supplier_name=draw(TEXT.filter(str.strip).map(lambda s: s[:200])), description=draw(TEXT),
                   account_code="429", bank_account_code="090", net=net, tax=tax, total=net + tax, currency=currency,
                   currency_rate=rate, reference=draw(TEXT.map(lambda s: s[:100])), source_key="generated")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expense=generated_expenses())
def test_a_body_built_from_any_expense_conforms_and_keeps_its_amounts(expense):
    body = build_direct_cost(expense, AllResolved(), currency_rate=expense.currency_rate)
    (request,) = capture(lambda c: c.push_direct_cost(COMPANY, CONNECTION, body, timeout_in_minutes=30))
    _, problems = request_problems(request)
    assert not problems, "\n".join(problems)
    sent = json.loads(request.content, parse_float=Decimal)
    assert Decimal(sent["totalAmount"]) == expense.total and Decimal(sent["lineItems"][0]["taxAmount"]) == expense.tax
    if expense.currency_rate is not None:
        assert Decimal(sent["currencyRate"]) == expense.currency_rate
    assert sent.get("note", "") == (expense.description or "") and unquote(request.url.path).endswith("/push/directCosts")
