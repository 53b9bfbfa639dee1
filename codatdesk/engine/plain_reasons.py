"""Codat's validation errors, said for an accountant: what happened, then what to do.

Codat names its own ids and field paths ("No account was found with ID 777
(PaymentAllocations[0].Payment.AccountRef.Id)"); the accountant knows the expense's
values ("Paid from 777"). ``explain_failure`` turns each validation entry into one
sentence about the expense's own value, with the ``engine.fixes.Fix`` that opens the
place to change it. Codat's raw text stays with each reason (``technical``) for the
"Technical details" the window keeps behind an expander. Qt-free, like ``fixes``.

The matching is on Codat's ``itemId`` (the field path) first and its message second,
both leniently: an entry we do not recognise still gets a sentence (Codat's message,
and "edit the expense"), never nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from codatdesk.engine.fixes import EDIT, MAP, NONE, RATE, Fix

ACCOUNT_TYPES = ("chartOfAccounts", "accounts")


@dataclass(frozen=True)
class ExpenseValues:
    """The expense's own values the sentences name (not Codat's ids)."""

    account_code: str = ""
    bank_account: str = ""
    tax_code: str = ""
    supplier: str = ""
    currency: str = ""
    reference: str = ""

    @classmethod
    def of(cls, expense: object) -> ExpenseValues:
        """From a store ``Expense`` (or anything with its attribute names)."""
        def value(name: str) -> str:
            return str(getattr(expense, name, "") or "")
        return cls(value("account_code"), value("bank_account_code"), value("tax_code"), value("supplier_name"),
                   value("currency"), value("reference"))


@dataclass(frozen=True)
class PlainReason:
    text: str  # what happened and what to do, in plain words
    fix: Fix
    technical: str = ""  # Codat's own words: message (itemId · validatorName)


def explain_failure(status: str, error_message: str | None, validation_errors: Iterable[dict] | None,
                    values: ExpenseValues, *, data_type: str | None = "directCosts",
                    creates: str | None = None) -> list[PlainReason]:
    """One plain reason per Codat validation error of a Failed (or TimedOut) push operation.

    ``data_type``/``creates``: the operation that failed may be the expense's prerequisite
    (an account or supplier codatdesk tried to create first); its errors are about that record.
    """
    if status == "TimedOut":
        return [PlainReason(
            "The accounting software did not answer Codat in time, so nobody knows yet whether the expense "
            "was written. codatdesk keeps asking Codat. Push it again anyway only after checking it is not "
            "in the ledger.", Fix(NONE, "Wait for Codat's answer, or check the ledger."), error_message or "")]
    reasons = [_explain_item(item, values, data_type, creates) for item in validation_errors or []
               if isinstance(item, dict)]
    if reasons:
        return reasons
    if error_message:
        return [PlainReason(f"Codat refused the expense and said: \u201c{error_message.strip()}\u201d. Correct "
                            "the expense (Edit) and push it again.", Fix(EDIT, "Edit the expense."), error_message)]
    return [PlainReason("Codat refused the expense but has not said why yet. codatdesk asks again at the next "
                        "check with Codat (F5).", Fix(NONE, "Check with Codat now (F5)."))]


def _technical(item: dict) -> str:
    message = str(item.get("message") or "").strip()
    where = " · ".join(str(item[k]) for k in ("itemId", "validatorName") if item.get(k))
    return f"{message} ({where})" if where else message


def _explain_item(item: dict, v: ExpenseValues, data_type: str | None, creates: str | None) -> PlainReason:
    where = str(item.get("itemId") or "")
    message = str(item.get("message") or "").strip()
    path, text = where.lower(), message.lower()
    technical = _technical(item)

    def reason(sentence: str, fix: Fix) -> PlainReason:
        return PlainReason(sentence, fix, technical)

    if data_type in ACCOUNT_TYPES:
        code = creates or v.account_code
        return reason(f"The ledger would not create account {code} for this expense ({_lower_first(message)}). "
                      f"Map account {code} to an existing account, or edit the expense.",
                      Fix(MAP, f"Map account {code} to an account in the Mapping view.", mapping_kind="account"))
    if data_type == "suppliers" or path.startswith("suppliername"):
        name = creates or v.supplier
        return reason(f"The ledger would not create the supplier \u201c{name}\u201d ({_lower_first(message)}). "
                      "Map it to an existing supplier, or edit the expense.",
                      Fix(MAP, f"Map \u201c{name}\u201d to a supplier in the Mapping view.", mapping_kind="supplier"))
    if "payment" in path and "accountref" in path:
        paid_from = v.bank_account or "(empty)"
        if "not a bank account" in text:
            what = f"Account {paid_from} is not a bank account in the ledger."
        elif "currency" in text:
            what = f"The bank account {paid_from} is in a currency the ledger cannot pay this expense from."
        else:
            what = f"Codat has no bank account {paid_from}."
        return reason(f"{what} Map \u2018Paid from {paid_from}\u2019 to a bank account, or edit the expense.",
                      Fix(MAP, f"Map \u2018Paid from {paid_from}\u2019 to a bank account in the Mapping view.",
                          mapping_kind="bankAccount"))
    if "currencyrate" in path or "currency rate" in text:
        currency = v.currency or "the expense's currency"
        return reason(f"The ledger needs an exchange rate for this {currency} expense. Add a rate for {currency} "
                      "in Currency rates, or type the rate in the expense.",
                      Fix(RATE, f"Add a rate for {currency} in Currency rates.", currency=v.currency or None))
    if "taxrateref" in path:
        code = v.tax_code or "(none)"
        return reason(f"Codat has no tax rate for tax code {code}. Map tax code {code} to a tax rate, or edit the "
                      "expense.", Fix(MAP, f"Map tax code {code} in the Mapping view.", mapping_kind="taxRate"))
    if "accountref" in path:
        code = v.account_code or "(none)"
        return reason(f"Codat has no account {code}. Map account {code} to an account in the ledger, or edit the "
                      "expense.", Fix(MAP, f"Map account {code} in the Mapping view.", mapping_kind="account"))
    if path.startswith("contactref"):
        name = v.supplier or "(none)"
        return reason(f"Codat has no supplier \u201c{name}\u201d. Map it to a supplier in the ledger, or edit the "
                      "expense.", Fix(MAP, f"Map \u201c{name}\u201d in the Mapping view.", mapping_kind="supplier"))
    if path.startswith("reference"):
        limit = _number_in(message)
        most = f" ({limit} characters at most)" if limit else ""
        return reason(f"The reference \u201c{v.reference}\u201d is longer than the ledger accepts{most}. "
                      "Shorten it (Edit).", Fix(EDIT, "Shorten the reference."))
    if path.startswith("currency"):
        return reason(f"The ledger does not accept the currency {v.currency or '(none)'}. Correct it (Edit).",
                      Fix(EDIT, "Correct the currency."))
    if path.startswith("issuedate"):
        return reason("The ledger did not accept the expense's date. Correct it (Edit).", Fix(EDIT, "Correct the date."))
    if "negative" in text:
        return reason("The ledger does not take this negative amount as an expense. Correct the amounts (Edit), or "
                      "book the refund in the ledger itself.", Fix(EDIT, "Correct the amounts."))
    if path.startswith(("totalamount", "subtotal", "taxamount", "lineitems")):
        return reason("The ledger did not accept the amounts. Check that net + tax equals the total (Edit).",
                      Fix(EDIT, "Correct the amounts."))
    return reason(f"Codat refused the expense: {_lower_first(message) or 'no reason given'}. Edit the expense and "
                  "push it again.", Fix(EDIT, "Edit the expense."))


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _number_in(text: str) -> int | None:
    match = re.search(r"\d+", text)
    return int(match.group()) if match else None
