"""Codat's validation errors said for an accountant: the expense's own values, what to do, the fix."""

from __future__ import annotations

from codatdesk.engine import fixes
from codatdesk.engine.plain_reasons import ExpenseValues, explain_failure

VALUES = ExpenseValues(account_code="429", bank_account="777", tax_code="INPUT2", supplier="Staples",
                       currency="EUR", reference="INV-2024-000123")


def item(item_id: str, message: str, validator: str = "DirectCost") -> dict:
    return {"itemId": item_id, "message": message, "validatorName": validator}


def one(*items: dict, **kwargs) -> object:
    reasons = explain_failure("Failed", None, list(items), VALUES, **kwargs)
    assert len(reasons) == len(items)
    return reasons[0]


def test_unknown_payment_account_names_paid_from_and_opens_its_mapping() -> None:
    reason = one(item("PaymentAllocations[0].Payment.AccountRef.Id", "No account was found with ID 6f1c.", "Account"))
    assert reason.text == ("Codat has no bank account 777. Map \u2018Paid from 777\u2019 to a bank account, "
                           "or edit the expense.")
    assert (reason.fix.kind, reason.fix.mapping_kind) == (fixes.MAP, "bankAccount")
    assert "6f1c" in reason.technical and "PaymentAllocations[0]" in reason.technical  # Codat's words kept apart
    assert "6f1c" not in reason.text


def test_payment_account_that_is_not_a_bank_account() -> None:
    reason = one(item("PaymentAllocations[0].Payment.AccountRef.Id", "Account abc is not a bank account.", "Account"))
    assert reason.text.startswith("Account 777 is not a bank account in the ledger.")
    assert reason.fix.mapping_kind == "bankAccount"


def test_expense_account_tax_rate_and_supplier_open_their_mapping() -> None:
    account = one(item("LineItems[0].AccountRef.Id", "No account was found with ID x.", "Account"))
    tax = one(item("LineItems[0].TaxRateRef.Id", "No tax rate was found with ID y.", "TaxRate"))
    supplier = one(item("ContactRef.Id", "No contact was found with ID z.", "Contact"))
    assert account.text.startswith("Codat has no account 429.") and account.fix.mapping_kind == "account"
    assert "tax code INPUT2" in tax.text and tax.fix.mapping_kind == "taxRate"
    assert "\u201cStaples\u201d" in supplier.text and supplier.fix.mapping_kind == "supplier"


def test_missing_rate_opens_the_rate_table_on_the_currency() -> None:
    reason = one(item("CurrencyRate", "CurrencyRate must be provided: EUR is not the base currency GBP."))
    assert (reason.fix.kind, reason.fix.currency) == (fixes.RATE, "EUR")
    assert reason.text.startswith("The ledger needs an exchange rate for this EUR expense.")


def test_reference_too_long_says_the_limit_and_edit() -> None:
    reason = one(item("Reference", "Reference Length must be less than or equal to 10."))
    assert "(10 characters at most)" in reason.text and "INV-2024-000123" in reason.text
    assert reason.fix.kind == fixes.EDIT


def test_prerequisite_account_refusal_is_about_the_account() -> None:
    reason = one(item("NominalCode", "NominalCode has a max length of 10 characters.", "Account"),
                 data_type="chartOfAccounts", creates="12345678901")
    assert reason.text.startswith("The ledger would not create account 12345678901")
    assert reason.fix.mapping_kind == "account"


def test_every_reason_says_something_and_has_a_fix_kind() -> None:
    odd = [item("Whatever", "Something Codat says."), {"message": ""}, item("TotalAmount", "negative not accepted")]
    reasons = explain_failure("Failed", None, odd, ExpenseValues())
    assert len(reasons) == 3
    assert all(r.text and r.fix.kind in fixes.FIX_KINDS for r in reasons)
    assert "something Codat says" in reasons[0].text


def test_no_validation_list_uses_the_error_message_or_says_none_came() -> None:
    (said,) = explain_failure("Failed", "Bad request", [], VALUES)
    (silent,) = explain_failure("Failed", None, None, VALUES)
    (timed_out,) = explain_failure("TimedOut", None, None, VALUES)
    assert "\u201cBad request\u201d" in said.text and said.technical == "Bad request"
    assert "has not said why" in silent.text
    assert "did not answer Codat in time" in timed_out.text and timed_out.fix.kind == fixes.NONE
