"""Reference lists: records repeated across pages are stored once, and nothing in the refresh
path stops a push batch (the rows say why instead)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from codatdesk.codat import CodatClient, CodatServerError
from codatdesk.engine import reference
from codatdesk.events import Notice
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import ReferenceRecord
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started


def _repeating_pages(request):
    """Lists served by offset paging that repeat records across pages (and one supplier without an id)."""
    import httpx

    a = {"id": "a1", "nominalCode": "429", "name": "General"}
    pages = {"accounts": [[a, {"id": "a2", "nominalCode": "090", "name": "Bank", "isBankAccount": True}],
                          [{**a, "name": "General (read later)"}]],
             "suppliers": [[{"id": "s1", "supplierName": "Acme"}], [{"id": "s1", "supplierName": "Acme"},
                                                                    {"supplierName": "No id"}]],
             "taxRates": [[]], "trackingCategories": [[]],
             "bankAccounts": [[{"id": "a2", "accountName": "Bank"}], [{"id": "a2", "accountName": "Bank"}]]}
    if request.url.path.endswith("/data/info"):
        return httpx.Response(200, json={"companyName": "Co", "baseCurrency": "GBP"})
    served = pages[request.url.path.rsplit("/", 1)[-1]]
    number = int(request.url.params["page"])
    results = served[number - 1] if number <= len(served) else []
    links = {"self": {"href": "x"}, **({"next": {"href": "x"}} if number < len(served) else {})}
    return httpx.Response(200, json={"results": results, "pageNumber": number, "pageSize": 2,
                                     "totalResults": 99, "_links": links})


class RepeatingClient(CodatClient):
    """The real client, paging through lists that repeat records across pages."""

    def __init__(self):
        import httpx

        super().__init__("key", "https://codat.test", transport=httpx.MockTransport(_repeating_pages), page_size=2)


    def push_options(self, company_id, connection_id, data_type):
        return {"type": "Object", "displayName": data_type, "required": True, "properties": {}}


def test_refresh_stores_each_record_once(db):
    counts = reference.refresh(db, RepeatingClient(), "co", "conn")  # IntegrityError before
    assert counts == {"accounts": 2, "suppliers": 1, "taxRates": 0, "trackingCategories": 0, "bankAccounts": 1}
    with Session(db) as session:
        rows = session.exec(select(ReferenceRecord)).all()
    assert sorted((r.data_type, r.codat_id) for r in rows) == [
        ("accounts", "a1"), ("accounts", "a2"), ("bankAccounts", "a2"), ("suppliers", "s1")]
    assert {r.name for r in rows if r.codat_id == "a1"} == {"General (read later)"}


@pytest.fixture
def harness(tmp_path):
    with started(tmp_path, push_delay=0.05, seed=4, page_overlap=2) as h:
        yield h



def test_a_push_batch_goes_through_lists_that_repeat_records_across_pages(harness):
    core = harness.start_core()
    # Small pages, so the sandbox's page_overlap repeats records in every list.
    core._client_factory = lambda: CodatClient(harness.sandbox.api_key, harness.server.base_url, page_size=4)
    core.reset_client()
    harness.import_rows([row(i) for i in range(3)])
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(15) and not batch.problems
    wait_until(lambda: [S(e.status) for e in expenses(core)] == [S.COMPLETE] * 3, 15, message="complete")
    with Session(core.db) as session:
        accounts = session.exec(select(ReferenceRecord).where(ReferenceRecord.data_type == "accounts")).all()
    assert len(accounts) == len({a.codat_id for a in accounts}) == len(harness.sandbox.accounts())


def test_a_failing_refresh_leaves_the_rows_saying_why_not_a_traceback(harness, monkeypatch):
    core = harness.start_core()
    notices: list[Notice] = []
    core.bus.subscribe(lambda event: notices.append(event) if isinstance(event, Notice) else None)

    def broken(*args, **kwargs):
        raise CodatServerError("GET /companies/x/data/accounts: Codat answered 500", status=500)

    monkeypatch.setattr(reference, "refresh", broken)
    harness.import_rows([row(i) for i in range(2)])
    ids = [e.id for e in expenses(core)]
    batch = core.push(ids)
    assert batch.wait(15), "the batch must end"
    assert sorted(p.expense_id for p in batch.problems) == ids
    assert all("could not be read" in p.reason and "push again" in p.reason for p in batch.problems)
    for expense in expenses(core):
        assert S(expense.status) is S.NOT_PUSHED and "could not be read" in expense.status_detail
    assert not [n for n in notices if n.level == "error"], [n.message for n in notices]
    assert harness.sandbox.push_operations == {}
