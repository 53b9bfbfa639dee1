"""Issue #12: references are never dropped or guessed. Each rule blocks before sending, with its
reason and fix, and nothing reaches the sandbox; mapped values resolve."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import Session

from codatdesk.engine import reference
from codatdesk.engine.pusher import UnresolvedReferences, build_direct_cost
from codatdesk.store.db import session_scope
from codatdesk.store.models import Expense, ReferenceRecord
from tests.conftest import wait_until
from tests.engine_harness import expenses, row


def push_blocked(harness, rows, *, map_suppliers=True):
    core = harness.start_core()
    harness.import_rows(rows, map_suppliers=map_suppliers)
    core.refresh_reference_data(harness.sandbox.company_id)
    ids = [e.id for e in expenses(core)]
    problems = core.check_pushable(ids)
    batch = core.push(ids)
    assert batch.wait(20)
    assert batch.sent == 0 and not harness.sandbox.push_operations
    assert harness.sandbox.ledger(harness.sandbox.company_id) == []
    return core, problems, batch


def test_unknown_tax_code_is_blocked_with_reason_and_fix(harness):
    core, problems, batch = push_blocked(harness, [row(1, tax_code="INPUT9")])
    reasons = [p.reason for p in problems]
    assert any("tax code INPUT9 is not in the ledger's tax rates: map it in Mappings, or edit the expense" in r
               for r in reasons), reasons
    assert [p.reason for p in batch.problems] == reasons
    assert "tax code INPUT9" in expenses(core)[0].status_detail  # what `list` shows


def test_empty_tax_code_blocks_unless_zero_tax_and_no_tax_is_mapped(harness):
    rows = [row(1, tax_code=""), row(2, tax_code="", net="10.00", tax="0.00", total="10.00")]
    core, problems, _ = push_blocked(harness, rows)
    by_id = {p.expense_id: p.reason for p in problems}
    first, second = (e.id for e in expenses(core))
    assert "tax amount but no tax code" in by_id[first]
    assert "\u201cno tax\u201d is not mapped" in by_id[second]
    core.set_mapping(harness.sandbox.company_id, "taxRate", reference.NO_TAX, "NONE")
    by_id = {p.expense_id: p.reason for p in core.check_pushable([first, second])}
    assert second not in by_id and "tax amount but no tax code" in by_id[first]
    batch = core.push([second])
    assert batch.wait(20) and batch.sent == 1
    wait_until(lambda: harness.sandbox.ledger(harness.sandbox.company_id), 15, message="pushed with no tax")
    (sent,) = harness.sandbox.ledger(harness.sandbox.company_id)
    assert sent["lineItems"][0]["taxRateRef"]["id"] == "NONE"


def test_unknown_supplier_is_blocked_never_sent_without_contact(harness):
    core, problems, _ = push_blocked(harness, [row(1, supplier="Nobody Ltd")], map_suppliers=False)
    assert any(p.reason.startswith("supplier Nobody Ltd is not in the ledger's suppliers: map it in Mappings")
               for p in problems), problems
    supplier = harness.sandbox.suppliers()[0]
    core.set_mapping(harness.sandbox.company_id, "supplier", "nobody ltd", supplier["id"])
    assert core.check_pushable([expenses(core)[0].id]) == []
    with Session(core.db) as session:
        body = build_direct_cost(expenses(core)[0], reference.Resolver(session, harness.sandbox.company_id))
    assert body["contactRef"] == {"id": supplier["id"], "dataType": "suppliers"}


def test_unknown_paid_from_is_blocked_not_sent_as_raw_code(harness):
    _core, problems, _ = push_blocked(harness, [row(1, bank="777"), row(2, bank="CARD-9")])
    assert len(problems) == 2 and all("is not one of the ledger's active bank accounts in GBP" in p.reason
                                      for p in problems), problems


def test_paid_from_must_be_a_bank_account_in_the_expense_or_base_currency(harness):
    # codat-docs docs/expenses/fx-management.md: a USD expense in a GBP company is paid from a USD or a
    # GBP account; two non-base currencies are never converted. This ledger's bank accounts are in GBP.
    harness.sandbox.set_base_currency("USD")
    eur = row(2, bank="Business Bank Account").replace(",GBP,", ",EUR,")
    core, problems, _ = push_blocked(harness, [row(1, bank="429"), eur])
    by_id = {p.expense_id: p.reason for p in problems}
    first, second = (e.id for e in expenses(core))
    assert "payment account 429 is not a bank account" in by_id[first]
    assert "is in GBP, not EUR or the company's USD" in by_id[second]


def test_foreign_expense_may_be_paid_from_a_base_currency_account(harness):
    eur = row(1, bank="Business Bank Account").replace(",GBP,", ",EUR,")
    core, problems, _ = push_blocked(harness, [eur])
    reasons = [p.reason for p in problems]
    assert len(reasons) == 1 and "EUR expense in a GBP company" in reasons[0], reasons  # only the rate is missing
    with Session(core.db) as session:
        resolver = reference.Resolver(session, harness.sandbox.company_id)
        match = resolver.explain("bankAccount", "Business Bank Account", currency="EUR")
    assert match.codat_id and match.outcome == reference.MATCHED, match


def _resolver_with(tmp_path, records):
    from codatdesk.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'refs.sqlite3'}")
    with session_scope(db) as session:
        for data_type, codat_id, code, name, extra in records:
            session.add(ReferenceRecord(company_id="co", data_type=data_type, codat_id=codat_id, code=code,
                                        name=name, extra_json=json.dumps(extra)))
    return db


def expense(**values):
    base = dict(company_id="co", supplier_name="Acme", account_code="429", bank_account_code="090",
                tax_code="INPUT2", net=Decimal("10"), tax=Decimal("2"), total=Decimal("12"), currency="GBP",
                source_key="k", expense_date=__import__("datetime").date(2026, 11, 2))
    base.update(values)
    return Expense(**base)


BANK = {"isBankAccount": True, "status": "Active", "currency": "GBP"}


def test_small_integer_paid_from_matching_another_accounts_id_is_not_used(tmp_path):
    db = _resolver_with(tmp_path, [
        ("accounts", "777", "429", "General Expenses", {"isBankAccount": False, "status": "Active", "currency": "GBP"}),
        ("accounts", "12", "090", "Business Bank Account", BANK),
    ])
    with Session(db) as session:
        resolver = reference.Resolver(session, "co")
    for raw in ("777", "12"):  # another account's id; even a bank account's id is not taken for a code
        match = resolver.explain("bankAccount", raw, currency="GBP")
        assert match.codat_id is None and match.outcome == reference.BLOCKED, match
    assert resolver.explain("bankAccount", "090", currency="GBP").codat_id == "12"


def test_codes_match_before_ids_and_inactive_records_never_match(tmp_path):
    db = _resolver_with(tmp_path, [
        ("accounts", "A1", "090", "Old Bank", {**BANK, "status": "Archived"}),
        ("accounts", "B2", "A1", "Current Bank", BANK),
        ("taxRates", "T0", "INPUT2", "20%", {"status": "Archived"}),
        ("suppliers", "S1", "", "Acme", {"status": "Active"}),
    ])
    with Session(db) as session:
        resolver = reference.Resolver(session, "co")
    assert resolver.explain("bankAccount", "A1", currency="GBP").codat_id == "B2"  # code before id
    archived = resolver.explain("bankAccount", "090", currency="GBP")
    assert archived.codat_id is None and "archived" in archived.problem
    assert resolver.explain("taxRate", "INPUT2").problem.startswith("tax code INPUT2 is archived")
    assert all(c.codat_id != "A1" for c in resolver.candidates("bankAccount", "GBP"))
    try:
        build_direct_cost(expense(account_id="X", bank_account_code="090"), resolver)
    except UnresolvedReferences as exc:
        assert any("archived" in p for p in exc.problems)
    else:
        raise AssertionError("an archived payment account was used")
