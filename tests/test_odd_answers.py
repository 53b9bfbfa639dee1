"""Answers Codat's spec allows (or that real servers give) but the sandbox never does, fed to the client
and the engine: odd paging, and push operations that say Success without saying what was created.

The client and the engine must neither crash nor guess: a list holds every record once and none is
dropped while any paging signal says there is more; a Success without the record's id completes the
expense without an id, never with another record's.

Sources: codat-docs ``docs/using-the-api/paging.md`` (``_links.next`` links the next page;
``totalResults`` counts the records), Codat-Platform.json ``PushOperation`` (``changes``,
``validation``, ``completedOnUtc`` optional and nullable).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.engine import reference
from codatdesk.engine.applier import Applier
from codatdesk.engine.results import OperationResult
from codatdesk.events import EventBus
from codatdesk.importer import ensure_company
from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.states import Trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import Expense, PushOperation, ReferenceRecord
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses, row
from tests.openapi_schemas import validation_errors

COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"


# -- paging ------------------------------------------------------------------------------------

def page(number: int, ids: list[str], *, total: int | None, next_link: bool | None, size: int = 2) -> dict:
    """One page as Codat shapes it (PagingInfo); ``next_link`` None leaves ``_links`` out altogether."""
    body: dict[str, Any] = {"results": [{"id": i, "nominalCode": i, "name": f"Account {i}"} for i in ids],
                            "pageNumber": number, "pageSize": size}
    if total is not None:
        body["totalResults"] = total
    if next_link is not None:
        body["_links"] = {"self": {"href": "/x"}, "current": {"href": f"/x?page={number}"}}
        if next_link:
            body["_links"]["next"] = {"href": f"/x?page={number + 1}"}
    return body


class Pages:
    """Serves the given pages for page=1..n, then empty pages; counts requests."""

    def __init__(self, pages: list[dict], *, ignore_page: bool = False) -> None:
        self.pages, self.ignore_page, self.asked = pages, ignore_page, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        self.asked.append(number)
        index = 0 if self.ignore_page else number - 1
        if index < len(self.pages):
            return httpx.Response(200, json=self.pages[index])
        return httpx.Response(200, json=page(number, [], total=self.pages[-1].get("totalResults"), next_link=False))


def listed(pages: Pages, page_size: int = 2) -> list[str]:
    client = CodatClient("k", transport=httpx.MockTransport(pages), sleep=lambda s: None, page_size=page_size)
    try:
        return [a["id"] for a in client.list_accounts(COMPANY)]
    finally:
        client.close()


def test_a_record_repeated_on_the_next_page_is_listed_once():
    pages = Pages([page(1, ["a", "b", "c"], total=6, next_link=True, size=3),
                   page(2, ["c", "d", "e"], total=6, next_link=True, size=3),
                   page(3, ["f"], total=6, next_link=False, size=3)])
    assert listed(pages, 3) == ["a", "b", "c", "d", "e", "f"]


def test_a_total_higher_than_the_records_ends_at_the_first_empty_page():
    pages = Pages([page(1, ["a", "b"], total=10, next_link=True), page(2, ["c"], total=10, next_link=False)])
    assert listed(pages) == ["a", "b", "c"]
    assert pages.asked == [1, 2, 3]  # one more page, empty: nothing left


def test_a_next_link_is_followed_even_when_the_total_says_all_were_read():
    # The two signals disagree: asking once more costs a request; trusting the total would drop c and d.
    pages = Pages([page(1, ["a", "b"], total=2, next_link=True), page(2, ["c", "d"], total=2, next_link=False)])
    assert listed(pages) == ["a", "b", "c", "d"]


def test_a_total_saying_more_is_followed_even_without_a_next_link():
    pages = Pages([page(1, ["a", "b"], total=4, next_link=False), page(2, ["c", "d"], total=4, next_link=False)])
    assert listed(pages) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("last", [[], ["e"]], ids=["empty", "short"])
def test_the_last_page_may_be_short_or_empty(last):
    pages = Pages([page(1, ["a", "b"], total=5, next_link=True), page(2, ["c", "d"], total=5, next_link=True),
                   page(3, last, total=5, next_link=True)])
    assert listed(pages) == ["a", "b", "c", "d", *last]


def test_a_server_that_ignores_page_size_is_read_to_the_end():
    smaller = Pages([page(n + 1, ids, total=5, next_link=n < 2, size=2)
                     for n, ids in enumerate([["a", "b"], ["c", "d"], ["e"]])])
    assert listed(smaller, page_size=5) == ["a", "b", "c", "d", "e"]
    larger = Pages([page(1, list("abcdefg"), total=7, next_link=False, size=7)])
    assert listed(larger, page_size=2) == list("abcdefg") and larger.asked == [1]


def test_a_server_that_ignores_page_stops_once_a_page_only_repeats():
    pages = Pages([page(1, ["a", "b"], total=4, next_link=True)], ignore_page=True)
    assert listed(pages) == ["a", "b"] and pages.asked == [1, 2]


def test_pages_without_links_or_total_end_on_a_short_page():
    # Beyond the spec (PagingInfo requires both): only the page size is left to go by.
    pages = Pages([page(1, ["a", "b"], total=None, next_link=None), page(2, ["c"], total=None, next_link=None)])
    assert listed(pages) == ["a", "b", "c"]


def test_push_history_repeated_across_pages_holds_each_operation_once():
    def operation(key: str) -> dict:
        return {"pushOperationKey": key, "companyId": COMPANY, "dataConnectionKey": CONNECTION, "status": "Success",
                "requestedOnUtc": "2026-11-01T10:00:00Z", "statusCode": 200}

    bodies = [{**page(1, [], total=3, next_link=True), "results": [operation("k1"), operation("k2")]},
              {**page(2, [], total=3, next_link=False), "results": [operation("k2"), operation("k3")]}]
    client = CodatClient("k", transport=httpx.MockTransport(Pages(bodies)), sleep=lambda s: None, page_size=2)
    try:
        assert [o["pushOperationKey"] for o in client.list_push_operations(COMPANY)] == ["k1", "k2", "k3"]
    finally:
        client.close()


def test_the_reference_refresh_stores_each_id_once_from_odd_pages(db):
    """Every list repeats records across pages, with a total that undercounts: stored once each, none lost."""
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/data/info"):
            return httpx.Response(200, json={"companyName": "Co", "baseCurrency": "GBP", "unknownField": 1})
        if "/options/" in request.url.path:  # the create models, read with the lists: none here
            return httpx.Response(404, json={"statusCode": 404, "error": "Not supported"})
        number = int(request.url.params["page"])
        ids = {1: ["a", "b"], 2: ["b", "c"], 3: ["c", "d"]}.get(number, [])
        return httpx.Response(200, json=page(number, ids, total=2, next_link=number < 3))

    client = CodatClient("k", transport=httpx.MockTransport(handler), sleep=lambda s: None, page_size=2)
    try:
        counts = reference.refresh(db, client, "co", "conn")
    finally:
        client.close()
    assert counts == {"accounts": 4, "suppliers": 4, "taxRates": 4, "bankAccounts": 4, "trackingCategories": 4}
    with Session(db) as session:
        rows = session.exec(select(ReferenceRecord)).all()
    assert sorted({(r.data_type, r.codat_id) for r in rows}) == sorted((r.data_type, r.codat_id) for r in rows)
    assert {r.codat_id for r in rows} == {"a", "b", "c", "d"}


# -- push operations that say less than they could ------------------------------------------------

KEY = "5c0e9c1a-8d3a-4b7e-9f65-0c1f3c2d4e5f"
DIRECT_COST_ID = "dc-1"
FULL_SUCCESS = {"pushOperationKey": KEY, "companyId": COMPANY, "dataConnectionKey": CONNECTION,
                "dataType": "directCosts", "status": "Success", "statusCode": 200,
                "requestedOnUtc": "2026-11-01T10:00:00Z", "completedOnUtc": "2026-11-01T10:00:05Z",
                "validation": {"errors": [], "warnings": []},
                "changes": [{"type": "Created", "recordRef": {"id": DIRECT_COST_ID, "dataType": "directCosts"},
                             "attachmentId": None}]}


def without(*keys: str, **changes: Any) -> dict:
    body = {k: v for k, v in copy.deepcopy(FULL_SUCCESS).items() if k not in keys}
    return {**body, **changes}


# (name, body, the record id the result may carry, whether the spec allows the body)
ODD_SUCCESSES = [
    ("changes null", without(changes=None), None, True),
    ("changes empty", without(changes=[]), None, True),
    ("changes absent", without("changes"), None, True),
    ("changes of another data type", without(changes=[
        {"type": "Created", "recordRef": {"id": "sup-9", "dataType": "suppliers"}},
        {"type": "Modified", "recordRef": {"id": "acc-9", "dataType": "chartOfAccounts"}}]), None, True),
    ("a change without recordRef", without(changes=[{"type": "Created", "recordRef": None}]), None, False),
    ("validation null", without(validation=None), DIRECT_COST_ID, False),
    ("completedOnUtc absent", without("completedOnUtc"), DIRECT_COST_ID, True),
    ("unknown extra fields", without(futureField={"x": 1}, timeoutInSeconds=None), DIRECT_COST_ID, False),
    ("statusCode absent", without("statusCode"), DIRECT_COST_ID, False),
]


@pytest.mark.parametrize("name,body,record_id,allowed", ODD_SUCCESSES, ids=[c[0] for c in ODD_SUCCESSES])
def test_the_bodies_fed_are_what_the_spec_allows_unless_marked(name, body, record_id, allowed):
    problems = validation_errors(body, "Codat-Platform.json", "PushOperation", strict=True)
    assert (problems == []) == allowed, problems


def read_through_client(body: dict) -> OperationResult:
    client = CodatClient("k", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)),
                         sleep=lambda s: None)
    try:
        return OperationResult.from_push_operation(client.get_push_operation(COMPANY, KEY))
    finally:
        client.close()


@pytest.fixture
def in_progress(db):
    """One expense in progress under push KEY (a directCost push still Pending), and its applier."""
    with session_scope(db) as session:
        ensure_company(session, "co", "Co")
        session.add(PushOperation(key=KEY, company_id="co", connection_id="conn", data_type="directCosts"))
        expense = Expense(company_id="co", expense_date=dt.date(2026, 11, 1), supplier_name="S", account_code="429",
                          bank_account_code="090", net=Decimal("10.00"), tax=Decimal("2.00"), total=Decimal("12.00"),
                          currency="GBP", source_key="k")
        session.add(expense)
        session.flush()
        session.get(PushOperation, KEY).expense_id = expense.id
        change_status(session, expense, Trigger.PUSH_SENT, Cause.user(), push_operation_key=KEY)
        expense_id = expense.id
    follow_ups: list = []
    applier = Applier(db, EventBus(), fetch_details=lambda *a: follow_ups.append(a),
                      push_dependents=lambda *a: follow_ups.append(a))
    return db, expense_id, applier, follow_ups


@pytest.mark.parametrize("name,body,record_id,allowed", ODD_SUCCESSES, ids=[c[0] for c in ODD_SUCCESSES])
def test_an_odd_success_completes_the_expense_without_a_guessed_id(in_progress, name, body, record_id, allowed):
    db, expense_id, applier, follow_ups = in_progress
    result = read_through_client(body)
    assert result.status == "Success" and result.record_id == record_id
    applier.apply_result("co", result, Cause.reconciliation(KEY))
    with Session(db) as session:
        op, expense = session.get(PushOperation, KEY), session.get(Expense, expense_id)
        assert S(expense.status) is S.COMPLETE
        assert op.status == "Success" and op.record_id == record_id and op.completed_at is not None
    assert follow_ups == []  # nothing to fetch or release for a direct cost that succeeded


def test_an_account_push_whose_success_names_only_other_records_releases_nothing(db):
    """The new account's id is never taken from a change of another data type: the dependents fail
    with a way forward instead of being sent with a supplier's id as their account."""
    with session_scope(db) as session:
        ensure_company(session, "co", "Co")
        session.add(PushOperation(key=KEY, company_id="co", connection_id="conn", data_type="chartOfAccounts",
                                  creates_code="777"))
        expense = Expense(company_id="co", expense_date=dt.date(2026, 11, 1), supplier_name="S", account_code="777",
                          bank_account_code="090", net=Decimal("10.00"), tax=Decimal("0.00"), total=Decimal("10.00"),
                          currency="GBP", source_key="k")
        session.add(expense)
        session.flush()
        change_status(session, expense, Trigger.WAIT_FOR_PREREQUISITE, Cause.user(), waiting_on_key=KEY)
        expense_id = expense.id
    released: list = []
    applier = Applier(db, EventBus(), fetch_details=lambda *a: None, push_dependents=lambda *a: released.append(a))
    body = without(dataType="chartOfAccounts", changes=[
        {"type": "Created", "recordRef": {"id": "sup-9", "dataType": "suppliers"}},
        {"type": "Created", "recordRef": {"id": "dc-9", "dataType": "directCosts"}}], validation=None)
    applier.apply_result("co", read_through_client(body), Cause.reconciliation(KEY))
    with Session(db) as session:
        expense = session.get(Expense, expense_id)
        assert released == [] and expense.account_id is None
        assert S(expense.status) is S.FAILED and "did not say its id" in expense.status_detail


# -- the whole engine against a sandbox whose push answers are stripped ----------------------------

class Stripping(httpx.BaseTransport):
    """Forwards to the sandbox; push-operation answers lose ``changes``, ``validation``,
    ``completedOnUtc`` and ``statusCode`` and gain a field nobody knows."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.stripped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/push" not in request.url.path:
            return response
        response.read()
        body = json.loads(response.content) if response.content else None
        for operation in (body.get("results", [body]) if isinstance(body, dict) else []):
            if isinstance(operation, dict) and "pushOperationKey" in operation:
                operation.update(changes=None, validation=None, futureField=[1, 2])
                operation.pop("completedOnUtc", None)
                operation.pop("statusCode", None)
                self.stripped += 1
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(response.status_code, headers=headers, json=body, request=request)

    def close(self) -> None:
        self.inner.close()


def test_the_engine_completes_pushes_whose_answers_say_nothing_about_the_record(tmp_path):
    harness = Harness(tmp_path, SandboxConfig(push_delay=0.05, seed=11))
    harness.start_sandbox()
    try:
        core = harness.start_core()
        stripping = Stripping()
        core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url,
                                                   transport=stripping)
        core.reset_client()
        harness.import_rows([row(i) for i in range(3)])
        batch = core.push([e.id for e in expenses(core)])
        assert batch.wait(15) and not batch.problems
        wait_until(lambda: [S(e.status) for e in expenses(core)] == [S.COMPLETE] * 3, 15, message="complete")
        core.reconcile_now()
        assert stripping.stripped >= 3
        with Session(core.db) as session:
            ops = session.exec(select(PushOperation).where(PushOperation.data_type == "directCosts")).all()
        created = {r["id"] for r in harness.sandbox.ledger(harness.sandbox.company_id)}
        # An id is either the one the ledger gave (from the webhook) or none at all, never another one.
        assert len(ops) == 3 and all(op.record_id in created | {None} for op in ops)
    finally:
        harness.stop()
