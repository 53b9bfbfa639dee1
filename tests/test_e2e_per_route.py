"""Issue #16, end to end on each push route: one imported file (a split expense with tracking, a single-line
expense, a refund, receipts beside the file) goes through the core to the sandbox's ledger, once.

Each route books differently, so each has its own reader of the ledger (``_direct_cost_ledger``,
``_expenses_ledger``) that returns the same shape: per expense reference, the record's kind, lines
(account code, net, tax, tracking ids) and the receipt file names attached to it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session

from codatdesk import routes
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense, PushOperation
from tests.conftest import wait_until
from tests.engine_harness import Harness, expenses, statuses
from tests.receipt_samples import pdf_bytes, png_bytes, write

D = Decimal
HEADER = ("date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,currency,"
          "reference,line,tracking,department,project,receipt\n")
# Tracking by id (DEPARTMENT_2), by name in the department/project columns (Finance, Website relaunch) and two
# at once; the sandbox's categories are in codatdesk/sandbox/reference_data.py.
ROWS = (
    "2026-11-03,Acme Office Supplies,Team lunch,429,General Expenses,090,INPUT2,50.00,10.00,60.00,GBP,SPLIT-1,1,"
    "DEPARTMENT_2,,,lunch.png\n"
    "2026-11-03,Acme Office Supplies,Train,493,Travel,090,ZERORATEDINPUT,30.00,0.00,30.00,GBP,SPLIT-1,2,"
    ",Finance,Website relaunch,\n"
    "2026-11-03,Acme Office Supplies,Printing,461,Printing & Stationery,090,INPUT2,20.00,4.00,24.00,GBP,SPLIT-1,3,"
    "DEPARTMENT_1;PROJECT_2,,,\n"
    "2026-11-04,Grand Hotel,Hotel night,429,General Expenses,090,INPUT2,100.00,20.00,120.00,GBP,SINGLE-1,,"
    ",,,hotel.pdf\n"
    "2026-11-05,Acme Office Supplies,Returned chair,429,General Expenses,090,INPUT2,-10.00,-2.00,-12.00,GBP,REFUND-1,,"
    ",,,credit-note.png\n"
)
RECEIPTS = {"lunch.png": png_bytes(), "hotel.pdf": pdf_bytes("Hotel"), "credit-note.png": png_bytes(rgb=(1, 2, 3))}
# What every route must book (amounts as the ledger holds them: the refund's sign is each route's own, below).
LINES = {
    "SPLIT-1": [("429", D("50.00"), D("10.00"), ["DEPARTMENT_2"]),
                ("493", D("30.00"), D("0.00"), ["DEPARTMENT_3", "PROJECT_1"]),
                ("461", D("20.00"), D("4.00"), ["DEPARTMENT_1", "PROJECT_2"])],
    "SINGLE-1": [("429", D("100.00"), D("20.00"), [])],
    "REFUND-1": [("429", D("10.00"), D("2.00"), [])],
}
ATTACHED = {"SPLIT-1": ["lunch.png"], "SINGLE-1": ["hotel.pdf"], "REFUND-1": ["credit-note.png"]}
# How each route books a refund: Xero turns a negative direct cost into a receive-money transaction (codat-docs
# docs/integrations/accounting/xero/xero-faq.md); the Expenses route sends a Refund type with positive amounts
# (codat-docs docs/expenses/sync-process/expense-transactions.md, "Transaction types").
KINDS = {
    routes.DIRECT_COSTS: {"SPLIT-1": "spend money", "SINGLE-1": "spend money", "REFUND-1": "receive money"},
    routes.EXPENSES: {"SPLIT-1": "Payment", "SINGLE-1": "Payment", "REFUND-1": "Refund"},
}


def _account_codes(harness: Harness) -> dict[str, str]:
    return {a["id"]: a["nominalCode"] for a in harness.sandbox.accounts(harness.company_id)}


def _record_ids(core) -> dict[str, str]:
    """Each expense's record in the ledger, by reference: the direct cost's id or the expense transaction's id."""
    with Session(core.db) as session:
        found = {}
        for e in expenses(core):
            if e.transaction_id:
                found[e.reference] = e.transaction_id
            elif e.push_operation_key and (op := session.get(PushOperation, e.push_operation_key)) and op.record_id:
                found[e.reference] = op.record_id
        return found


def _direct_cost_ledger(harness: Harness, records: dict[str, str]) -> dict[str, tuple]:
    from codatdesk.sandbox.attachments import store_of

    codes, by_id = _account_codes(harness), {v: k for k, v in records.items()}
    attached: dict[str, list[str]] = {}
    for a in store_of(harness.sandbox).of(harness.company_id):
        attached.setdefault(by_id.get(a["directCostId"], a["directCostId"]), []).append(a["name"])
    ledger = {}
    for b in harness.sandbox.bookings(harness.company_id):
        reference = by_id.get(b["directCostId"], b["directCostId"])
        lines = [(codes[line["accountId"]], line["baseTotalAmount"] - line["baseTaxAmount"], line["baseTaxAmount"],
                  line["trackingCategoryIds"]) for line in b["lines"]]
        ledger[reference] = (b["bookedAs"], lines, sorted(attached.get(reference, [])))
    return ledger


def _expenses_ledger(harness: Harness, records: dict[str, str]) -> dict[str, tuple]:
    codes, by_id = _account_codes(harness), {v: k for k, v in records.items()}
    ledger = {}
    for b in harness.sandbox.expenses.bookings(harness.company_id):
        reference = by_id.get(b["transactionId"], b["transactionId"])
        lines = [(codes[line["accountId"]], line["netAmount"], line["taxAmount"], line["trackingIds"])
                 for line in b["lines"]]
        ledger[reference] = (b["type"], lines, sorted(a["fileName"] for a in b["attachments"]))
    return ledger


LEDGERS = {routes.DIRECT_COSTS: _direct_cost_ledger, routes.EXPENSES: _expenses_ledger}


def _import(harness: Harness, folder: Path) -> None:
    for name, data in RECEIPTS.items():
        write(folder, name, data)
    sheet = folder / "november.csv"
    sheet.write_text(HEADER + ROWS, encoding="utf-8")
    report = harness.core.import_file(sheet, harness.company_id)
    assert report.ok, [str(e) for e in report.errors]
    assert (report.rows, report.added, report.receipts.attached) == (5, 3, 3)
    harness.map_unknown_suppliers()


def _all_final_and_uploaded(core) -> bool:
    rows = expenses(core)
    return (all(ExpenseStatus(e.status).is_final for e in rows)
            and all(r.upload_status == "uploaded" for e in rows for r in core.receipts(e.id)))


def _push_all(core) -> None:
    ids = [e.id for e in expenses(core)]
    batch = core.push(ids)
    assert batch.wait(30) and batch.sent == len(ids), batch.unsent + batch.problems
    wait_until(lambda: _all_final_and_uploaded(core), 30, message="every row final, every receipt uploaded")


@pytest.mark.parametrize("route", [routes.DIRECT_COSTS, routes.EXPENSES])
def test_an_imported_file_reaches_the_ledger_once_on_each_route(harness, tmp_path, route):
    core = harness.start_core()  # the harness's company is on the Xero profile
    routes.set_route(core.db, harness.company_id, route)
    core.refresh_reference_data(harness.company_id)
    _import(harness, tmp_path)

    _push_all(core)
    assert statuses(core) == [ExpenseStatus.COMPLETE] * 3, [e.status_detail for e in expenses(core)]
    records = _record_ids(core)
    assert set(records) == set(LINES)
    ledger = LEDGERS[route](harness, records)
    assert set(ledger) == set(LINES)  # one record per expense, none else
    for reference, lines in LINES.items():
        kind, booked, attached = ledger[reference]
        assert (kind, booked) == (KINDS[route][reference], lines), reference
        assert attached == ATTACHED[reference], reference
    if route == routes.DIRECT_COSTS:  # the body Codat got still says what the file said: a negative direct cost
        refund = next(c for c in harness.sandbox.ledger(harness.company_id) if c["id"] == records["REFUND-1"])
        assert refund["totalAmount"] == D("-12.00")

    # The same rows again: importing the file adds nothing; a second push must not write a second record.
    assert harness.core.import_file(tmp_path / "november.csv", harness.company_id).added == 0
    ids = [e.id for e in expenses(core)]
    if route == routes.DIRECT_COSTS:
        # A direct cost has no duplicate check at Codat: codatdesk refuses to send a Push complete row again.
        batch = core.push(ids)
        assert batch.wait(30) and batch.sent == 0
        assert {p.kind for p in batch.problems} == {"state"}, batch.problems
    else:
        # As if Codat's answers were lost (or the database restored from a backup): the rows are sent again
        # under their transaction ids, and Codat's duplicate counts as already sent.
        with Session(core.db) as session:
            session.exec(update(Expense).values(status=ExpenseStatus.NOT_PUSHED))
            session.commit()
        _push_all(core)
        assert all(e.status_detail.startswith("Already in the ledger") for e in expenses(core))
    assert statuses(core) == [ExpenseStatus.COMPLETE] * 3
    assert _record_ids(core) == records
    assert LEDGERS[route](harness, records) == ledger  # no second record, no second receipt
