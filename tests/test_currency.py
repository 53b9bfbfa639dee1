"""Foreign-currency expenses: the base currency is read from Codat, a foreign expense carries
``currencyRate`` (Codat: base amount = amount x rate) or is not sent, and the sandbox books a null
rate at 1 as QuickBooks Online does (codat-docs static/oas/Codat-Sync-Expenses.json, currencyRate)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.engine import currency
from codatdesk.engine.pusher import build_direct_cost
from codatdesk.engine.reference import Resolution
from codatdesk.importer import import_file
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Company, Expense
from tests.conftest import wait_until
from tests.engine_harness import expenses, started
from tests.openapi_schemas import validate

HEADER = "date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,currency,reference"


@pytest.fixture
def harness(tmp_path):
    with started(tmp_path, push_delay=0.05, seed=7) as h:
        yield h


def import_csv(harness, lines: list[str], header: str = HEADER + ",currency_rate") -> None:
    path = harness.tmp / f"fx-{len(lines)}-{id(lines)}.csv"
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    report = harness.core.import_file(path, harness.sandbox.company_id)
    assert report.ok, report.errors



def pushed_and_final(harness) -> list[Expense]:
    core = harness.core
    batch = core.push([e.id for e in expenses(core)])
    assert batch.wait(30)
    wait_until(lambda: all(S(e.status).is_final for e in expenses(core)), 30, message="final states")
    return expenses(core)


def test_a_foreign_expense_with_a_rate_is_booked_at_amount_times_rate(harness):
    core = harness.start_core()
    import_csv(harness, ["2026-11-03,Costa Coffee,Lunch,429,General Expenses,090,INPUT2,84.03,15.97,100.00,EUR,FX-1,0.85",
                         "2026-11-04,Trainline,Train,429,General Expenses,090,INPUT2,10.00,2.00,12.00,GBP,FX-2,"])
    rows = pushed_and_final(harness)
    assert [S(e.status) for e in rows] == [S.COMPLETE, S.COMPLETE]
    with Session(core.db) as session:
        assert session.get(Company, harness.sandbox.company_id).base_currency == "GBP"  # from data/info
    ledger = {dc["reference"]: dc for dc in harness.sandbox.ledger()}
    assert ledger["FX-1"]["currencyRate"] == Decimal("0.85")
    assert ledger["FX-1"]["paymentAllocations"][0]["payment"]["currencyRate"] == Decimal("0.85")
    assert "currencyRate" not in ledger["FX-2"]  # the base currency sends no rate
    booked = {b["directCostId"]: b for b in harness.sandbox.bookings()}
    eur = booked[ledger["FX-1"]["id"]]
    assert eur["baseTotalAmount"] == Decimal("85.00") and eur["paymentBaseTotalAmount"] == Decimal("85.00")
    assert not eur["nullRateBookedAsOne"]
    assert booked[ledger["FX-2"]["id"]]["baseTotalAmount"] == Decimal("12.00")


def test_the_rate_table_gives_the_rate_valid_on_the_expense_date(harness):
    core = harness.start_core()
    company = harness.sandbox.company_id
    currency.set_rate(core.db, company, "usd", Decimal("0.781"), dt.date(2026, 1, 1))
    currency.set_rate(core.db, company, "USD", Decimal("0.5"), dt.date(2026, 12, 1))  # later: not for November
    import_csv(harness, ["2026-11-03,Staples,Cable,429,General Expenses,090,NONE,20.00,0.00,20.00,USD,FX-3"], HEADER)
    rows = pushed_and_final(harness)
    assert S(rows[0].status) is S.COMPLETE and rows[0].currency_rate is None
    (booking,) = harness.sandbox.bookings()
    assert booking["rateApplied"] == Decimal("0.781") and booking["baseTotalAmount"] == Decimal("15.62000")


def test_a_foreign_expense_without_a_rate_is_blocked_and_nothing_is_sent(harness):
    core = harness.start_core()
    import_csv(harness, ["2026-11-03,Costa Coffee,Lunch,429,General Expenses,090,INPUT2,84.03,15.97,100.00,EUR,FX-4"], HEADER)
    (expense,) = expenses(core)
    batch = core.push([expense.id])
    assert batch.wait(30)
    assert [p.expense_id for p in batch.problems] == [expense.id] and batch.sent == 0
    reason = batch.problems[0].reason
    assert "EUR expense in a GBP company needs a rate" in reason and "codatdesk rates set EUR" in reason
    assert harness.sandbox.push_operations == {} and harness.sandbox.ledger() == []
    (expense,) = expenses(core)
    assert S(expense.status) is S.NOT_PUSHED and expense.status_detail == reason  # `list` shows it
    # The base currency is known now: the window's explain-before-send check says it before any push.
    assert [p.reason for p in core.pusher.check([expense.id])] == [reason]
    currency.set_rate(core.db, harness.sandbox.company_id, "EUR", Decimal("0.85"), dt.date(2026, 11, 1))
    assert core.pusher.check([expense.id]) == []


def test_a_null_rate_posted_directly_is_booked_at_1_as_quickbooks_online_does(harness):
    client = CodatClient(harness.sandbox.api_key, base_url=harness.server.base_url, sleep=lambda s: None)
    sb = harness.sandbox
    company_id, connection_id = sb.add_company("Books on QuickBooks Online", "qhyg")  # the demo company is Xero
    try:
        assert client.get_company_info(company_id)["baseCurrency"] == "GBP"
        bank = next(a["id"] for a in client.list_accounts(company_id) if a.get("isBankAccount"))
        account = next(a["id"] for a in client.list_accounts(company_id) if a.get("nominalCode") == "429")
        supplier = sb.suppliers(company_id)[0]["id"]
        day = "2026-11-03T00:00:00"
        body = {"issueDate": day, "currency": "EUR", "currencyRate": None, "contactRef": {"id": supplier},
                "lineItems": [{"unitAmount": Decimal("100.00"), "quantity": Decimal(1), "subTotal": Decimal("100.00"),
                               "taxAmount": Decimal(0), "totalAmount": Decimal("100.00"),
                               "accountRef": {"id": account}}],
                "paymentAllocations": [{"payment": {"accountRef": {"id": bank}, "currency": "EUR", "paidOnDate": day,
                                                    "totalAmount": Decimal("100.00")},
                                        "allocation": {"currency": "EUR", "allocatedOnDate": day,
                                                       "totalAmount": Decimal("100.00")}}],
                "subTotal": Decimal("100.00"), "taxAmount": Decimal(0), "totalAmount": Decimal("100.00")}
        answer = client.push_direct_cost(company_id, connection_id, body)
        wait_until(lambda: client.get_push_operation(company_id, answer["pushOperationKey"])["status"] != "Pending",
                   10, message="push done")
    finally:
        client.close()
    (booking,) = sb.bookings(company_id)
    assert booking["nullRateBookedAsOne"] and booking["rateApplied"] == 1
    assert booking["baseTotalAmount"] == Decimal("100.00")  # EUR 100 booked as GBP 100: the misbooking


def test_a_request_with_a_rate_conforms_to_the_openapi_copy(db):
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("/data/info"):
            return httpx.Response(200, json={"companyName": "Co", "baseCurrency": "GBP"})
        return httpx.Response(200, json={"pushOperationKey": "k", "companyId": "c", "status": "Pending",
                                         "requestedOnUtc": "2026-11-03T00:00:00Z", "statusCode": 202,
                                         "dataConnectionKey": "d"})

    class Resolver:  # every reference resolved (the reference rules are tests/test_reference_rules.py's)
        resolve = staticmethod(lambda e, line_one_tax=None: Resolution("id-1", False, "id-1", "id-1", "id-1"))

    expense = Expense(company_id="c", expense_date=dt.date(2026, 11, 3), supplier_name="Cafe", account_code="429",
                      bank_account_code="090", net=Decimal("84.03"), tax=Decimal("15.97"), total=Decimal("100.00"),
                      currency="EUR", currency_rate=Decimal("0.851234567"), source_key="s")
    body = build_direct_cost(expense, Resolver(), currency_rate=expense.currency_rate)
    client = CodatClient("k", transport=httpx.MockTransport(handler), sleep=lambda s: None)
    try:
        client.push_direct_cost("c", "d", body)
        assert client.get_company_info("c")["baseCurrency"] == "GBP"
    finally:
        client.close()
    sent = json.loads(requests[0].content, parse_float=Decimal)
    assert sent["currencyRate"] == Decimal("0.851234567")
    assert sent["paymentAllocations"][0]["payment"]["currencyRate"] == Decimal("0.851234567")
    validate(json.loads(requests[0].content), "Codat-Accounting-2023.json", "DirectCost", strict=True)
    assert requests[1].url.path == "/companies/c/data/info"


def test_the_sandbox_company_info_conforms(harness):
    validate(json.loads(json.dumps(harness.sandbox.state.company_info(harness.sandbox.company_id), default=str)),
             "Codat-Accounting-2023.json", "CompanyDataset", strict=True)


def test_import_reads_the_rate_in_the_files_number_format(db, tmp_path):
    path = tmp_path / "de.csv"
    path.write_text(HEADER.replace(",", ";") + ";currency_rate\n"
                    "2026-11-03;Cafe;Lunch;429;;090;;1.084,03;15,97;1.100,00;EUR;R1;0,85\n"
                    "2026-11-04;Rail;Train;429;;090;;10,00;2,00;12,00;GBP;R2;\n", encoding="utf-8")
    report = import_file(db, path, "co")
    assert report.ok, report.errors
    with Session(db) as session:
        rates = [e.currency_rate for e in session.exec(select(Expense).order_by(Expense.id))]
    assert rates == [Decimal("0.85"), None]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ",currency_rate\n2026-11-03,Cafe,Lunch,429,,090,,10.00,0.00,10.00,EUR,R3,-2\n",
                   encoding="utf-8")
    report = import_file(db, bad, "co")
    assert not report.ok and "greater than 0" in str(report.errors[0])


def test_a_rate_is_never_left_out_because_the_base_currency_is_unknown(db):
    """Codat's company info without a base currency: an expense with its own rate sends it; one without
    is blocked (QuickBooks Online would book it at 1), and a company whose base was never read waits."""
    import datetime as dt
    from decimal import Decimal

    from codatdesk.engine import currency as fx
    from codatdesk.importer import ensure_company
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import Expense as E

    with session_scope(db) as session:
        ensure_company(session, "c")

        def expense(rate):
            e = E(company_id="c", expense_date=dt.date(2026, 11, 2), supplier_name="s", account_code="429",
                  net=Decimal(10), tax=Decimal(0), total=Decimal(10), currency="EUR", currency_rate=rate,
                  source_key=f"k{rate}-{uuid.uuid4()}")  # id(object()) repeats: freed at once
            session.add(e)
            session.flush()
            return e

        unread = expense(None)
        assert fx.rate_to_send(session, unread) == (None, None)  # the engine reads the base currency first
        fx.store_base_currency(session, "c", {})  # read, but Codat gave none
        assert fx.rate_to_send(session, expense(Decimal("0.85"))) == (Decimal("0.85"), None)
        rate, reason = fx.rate_to_send(session, expense(None))
        assert rate is None and fx.is_missing_rate(reason) and "did not say the company's base currency" in reason
