"""engine.fixes: each reason the push engine gives maps to one fix (the place to make it)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from codatdesk.engine import fixes
from codatdesk.engine.fixes import fix_for
from codatdesk.engine.pusher import OUTCOME_UNKNOWN_PROBLEM, PushProblem

RATE_REASON = ("EUR expense in a GBP company needs a rate (GBP per 1 EUR) for 2026-11-03: add currency_rate to the "
               "row (or \u201cRate to base currency\u201d in the expense), or `codatdesk rates set EUR RATE --from "
               "2026-11-03`. Without it QuickBooks Online books it at 1")


@pytest.mark.parametrize(("reason", "kind", "mapping_kind"), [
    (("supplier Acme Ltd is not in the ledger's suppliers: map it in Mappings, or edit the expense (codatdesk "
      "does not create suppliers yet)"), fixes.CREATE, "supplier"),
    ("supplier Acme is archived in the ledger: map it in Mappings, or edit the expense", fixes.MAP, "supplier"),
    (("account 888 is not in Codat's chart of accounts; map it in Mappings, or give it a name so it can be "
      "created"), fixes.MAP, "account"),
    (("payment account 091 is not one of the ledger's active bank accounts in GBP: map it in Mappings, or edit "
      "the expense"), fixes.MAP, "bankAccount"),
    ("tax code ZZZ is not in the ledger's tax rates: map it in Mappings, or edit the expense", fixes.MAP, "taxRate"),
    (("the expense has no tax code and \u201cno tax\u201d is not mapped for this company: map \u201cno "
      "tax\u201d to the ledger's own rate in Mappings (Xero: NONE), or give the expense a tax code"), fixes.MAP,
     "taxRate"),
    (("the expense has a tax amount but no tax code (the ledger would apply the account's default VAT): give "
      "the expense a tax code"), fixes.EDIT, None),
    ("the supplier is missing", fixes.EDIT, None),
    ("net 10.00 + tax 2.00 does not equal total 13.00", fixes.EDIT, None),
    ("'EU' is not an ISO 4217 currency", fixes.EDIT, None),
    ("the company has no accounting connection chosen (Settings > Codat)", fixes.SETTINGS, None),
    ("the accounting connection is Deauthorized: reconnect it first", fixes.RECONNECT, None),
    ("already in the ledger (Push complete)", fixes.NONE, None),
    (OUTCOME_UNKNOWN_PROBLEM, fixes.NONE, None),
])
def test_each_reason_has_its_fix(reason, kind, mapping_kind):
    fix = fix_for(reason)
    assert (fix.kind, fix.mapping_kind) == (kind, mapping_kind)
    assert fix.text and fix.text.endswith(".")


def test_a_missing_rate_opens_the_rate_table_on_its_currency():
    fix = fix_for(RATE_REASON)
    assert (fix.kind, fix.currency) == (fixes.RATE, "EUR")
    assert fix.action_label == "Set a rate…"
    unknown_base = fix_for("USD expense needs a rate (or the company's base currency): Codat did not say the "
                           "company's base currency, so codatdesk cannot tell whether a rate is needed. Refresh")
    assert unknown_base.kind == fixes.REFRESH


@dataclass(frozen=True)
class KindedProblem:  # PushProblem as branch h-sync may make it
    expense_id: int
    reason: str
    kind: str | None = None


def test_a_problem_kind_is_preferred_and_the_reason_still_gives_the_details():
    assert fix_for(PushProblem(1, RATE_REASON)).kind == fixes.RATE
    assert fix_for(KindedProblem(1, RATE_REASON, "rate")).currency == "EUR"
    overridden = fix_for(KindedProblem(1, "something the reasons do not know", "edit"))
    assert overridden.kind == fixes.EDIT and overridden.text == "Edit the expense."
    assert fix_for(KindedProblem(1, RATE_REASON, "not a fix kind")).kind == fixes.RATE


def test_an_unknown_supplier_can_be_mapped_or_created_once_allowed():
    fix = fix_for("supplier Acme is not in the ledger's suppliers: map it in Mappings, or allow codatdesk to create "
                  "suppliers for this company (codatdesk suppliers --create on)")
    assert [(c.kind, c.action_label, c.mapping_kind) for c in fix.choices()] == [
        (fixes.CREATE, "Map…", "supplier"), (fixes.ALLOW_SUPPLIERS, "Allow creating suppliers", "supplier")]
    assert "allow codatdesk to create suppliers for this company" in fix.text
    assert "add it in the accounting software" not in fix.text  # no longer the only way on
    assert fix_for("supplier Acme is archived in the ledger: map it in Mappings, or edit the expense").also == ()
