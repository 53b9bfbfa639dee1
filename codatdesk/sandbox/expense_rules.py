"""What each integration allows on the Expenses route, and the checks of one expense transaction.

Sources: codatio/oas ``Codat-Sync-Expenses.json`` (the "spec": operation descriptions and schemas)
and codat-docs ``docs/expenses/**``. Where neither says, the rule is marked "sandbox choice".
``docs/ledger-rules.md`` lists each rule with its source and test.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

from codatdesk import integrations

from . import profiles
from .state import is_iso_date

TRANSACTION_TYPES = ("Payment", "Refund", "Reward", "Chargeback")  # spec ExpenseTransaction.type
REIMBURSABLE = "reimbursable-expense-transactions"
MB = 1024 * 1024


@dataclass(frozen=True)
class ExpenseRules:
    name: str
    # spec update-expense-transaction "Supported integrations" (Payment type only): Xero, QBO, QBD all Yes.
    updates: bool
    # spec create-reimbursable-expense-transaction "Supported Integrations": QBO and QBD, not Xero.
    reimbursable: bool
    # spec upload-expense-attachment table; None: "Does not support attachment upload" (QBD).
    attachment_max_bytes: int | None
    attachment_extensions: frozenset[str]
    # which transactions take attachments (validFor names; None: all supported types)
    attachment_types: frozenset[str] | None
    # spec ExpenseTransactionLine.accountRef: "required for all integrations except QBD which currently
    # supports either itemRef or accountRef"; apAccountRef "currently supported only for QuickBooks Desktop".
    item_ref: bool


_XERO_EXTENSIONS = frozenset(
    ["7z", "bmp", "csv", "doc", "docx", "eml", "gif", "jpeg", "jpg", "keynote", "msg", "numbers", "odf", "ods", "odt", "pages", "pdf", "png", "ppt", "pptx", "rar", "rtf", "tif", "tiff", "txt", "xls", "xlsx", "zip"])
_QBO_EXTENSIONS = frozenset(["ai", "csv", "doc", "docx", "eps", "gif", "jpeg", "jpg", "ods", "pages", "pdf", "png", "rtf", "tif", "txt", "xls", "xlsx", "xml"])

EXPENSE_RULES: dict[str, ExpenseRules] = {
    # Xero: the spec says 3 MB, codat-docs docs/expenses/sync-process/uploading-receipts.md says 10 MB:
    # the stricter (3 MB) applies.
    integrations.XERO: ExpenseRules("Xero", updates=True, reimbursable=False, attachment_max_bytes=3 * MB,
                                    attachment_extensions=_XERO_EXTENSIONS, attachment_types=None, item_ref=False),
    integrations.QUICKBOOKS_ONLINE: ExpenseRules(
        "QuickBooks Online", updates=True, reimbursable=True, attachment_max_bytes=100 * MB,
        attachment_extensions=_QBO_EXTENSIONS,
        attachment_types=frozenset({"expense-transactions.Payment", "expense-transactions.Refund", REIMBURSABLE}),
        item_ref=False),
    integrations.QUICKBOOKS_DESKTOP: ExpenseRules(
        "QuickBooks Desktop", updates=True, reimbursable=True, attachment_max_bytes=None,
        attachment_extensions=frozenset(), attachment_types=frozenset(), item_ref=True),
}
EXPENSE_RULES[integrations.QUICKBOOKS_ONLINE_SANDBOX] = EXPENSE_RULES[integrations.QUICKBOOKS_ONLINE]


def rules_for(platform_key: str | None) -> ExpenseRules:
    return EXPENSE_RULES.get(platform_key or "", EXPENSE_RULES[integrations.XERO])


# -- mapping options (sandbox choice: Codat does not publish how it derives them) -----------

def account_valid_for(account: dict[str, Any]) -> list[str]:
    """validFor of a ledger account: expense accounts take every expense type and claims, income
    accounts take rewards, bank accounts take transfers; balance-sheet accounts take adjustments."""
    category = account.get("fullyQualifiedCategory") or ""
    if account.get("isBankAccount"):
        return ["transfer-transactions", "adjustment-transactions"]
    if category.startswith("Expense"):
        return [f"expense-transactions.{t}" for t in TRANSACTION_TYPES] + [REIMBURSABLE, "adjustment-transactions"]
    if category.startswith("Income"):
        return ["expense-transactions.Reward", "adjustment-transactions"]
    return ["adjustment-transactions"]


def account_valid_types(valid_for: list[str]) -> list[str]:
    return [t for t in TRANSACTION_TYPES if f"expense-transactions.{t}" in valid_for]


def tax_rate_valid_types(tax_rate: dict[str, Any]) -> list[str]:
    """Rates on purchases take spend and its reversals; a reward (income) takes only a zero rate."""
    if Decimal(tax_rate.get("effectiveTaxRate") or 0) == 0:
        return list(TRANSACTION_TYPES)
    return ["Payment", "Refund", "Chargeback"]


# -- checks of one transaction --------------------------------------------------------------

_CURRENCY = re.compile(r"^[A-Z]{3}$")
TAX_TOLERANCE = Decimal("0.01")


def _number(value: Any) -> TypeGuard[int | Decimal]:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _ref_id(container: Any, key: str) -> Any:
    value = container.get(key) if isinstance(container, dict) else None
    return value.get("id") if isinstance(value, dict) else None


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)




@dataclass
class Ledger:
    """What the checks read: the company's ledger as mapping options show it, and its configuration."""

    platform_key: str
    base_currency: str
    accounts: dict[str, dict[str, Any]]      # id -> AccountMappingInfo
    tax_rates: dict[str, dict[str, Any]]     # id -> TaxRateMappingInfo
    tracking: dict[str, dict[str, Any]]      # id -> TrackingCategoryMappingInfo
    suppliers: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    bank_account_ids: set[str]
    config: dict[str, Any] | None


def transaction_problems(body: dict[str, Any], ledger: Ledger, *, reimbursable: bool) -> list[str]:
    """Every reason the transaction cannot be written (empty: it can). Messages name the field and the fix."""
    problems: list[str] = []
    kind = body.get("type") if not reimbursable else None
    if not reimbursable and kind not in TRANSACTION_TYPES:
        problems.append(f"Type must be one of {', '.join(TRANSACTION_TYPES)}, not {kind!r}.")
    for name in ("issueDate", "dueDate") if reimbursable else ("issueDate",):
        if not is_iso_date(body.get(name)):
            problems.append(f"{name[0].upper()}{name[1:]} must be provided as an ISO 8601 date.")
    currency = body.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        problems.append(f"Currency must be a three-letter ISO 4217 code, not {currency!r}.")
        currency = None
    rate = body.get("currencyRate")
    if rate is not None and (not _number(rate) or rate <= 0):
        problems.append(f"CurrencyRate must be a number greater than 0, not {rate}.")
    profile = profiles.profile_for(ledger.platform_key)
    if (currency and currency != ledger.base_currency and rate is None
            and profile.foreign_without_rate == profiles.REFUSE):
        # codat-docs docs/expenses/fx-management.md: "you must specify the exchange rate"
        problems.append(f"CurrencyRate must be provided: {currency} is not the base currency {ledger.base_currency}.")
    problems += _contact_problems(body, ledger, currency, reimbursable=reimbursable)
    if not reimbursable:
        problems += _bank_problems(body, ledger)
    elif body.get("apAccountRef") is not None and not rules_for(ledger.platform_key).item_ref:
        problems.append("ApAccountRef is supported only for QuickBooks Desktop; leave it out.")
    valid_for = REIMBURSABLE if reimbursable else f"expense-transactions.{kind}"
    problems += _line_problems(body.get("lines"), ledger, valid_for, kind or "Payment")
    return problems


def _contact_problems(body: dict[str, Any], ledger: Ledger, currency: str | None, *,
                      reimbursable: bool) -> list[str]:
    contact_id = _ref_id(body, "contactRef")
    if reimbursable:
        # spec: reimbursable expenses are Bills "against an employee (who exists as a supplier)".
        if not contact_id:
            return ["ContactRef.Id must be provided: the employee, as a supplier in the ledger."]
        if contact_id not in ledger.suppliers:
            return [f"No supplier was found with ID {contact_id}: the employee must exist as a supplier."]
        supplier = ledger.suppliers[contact_id]
    else:
        config_id = _ref_id(ledger.config, "supplier") if ledger.config else None
        supplier_id = contact_id or config_id
        if not supplier_id:
            # codat-docs docs/expenses/config-and-categorize.md "Default and mandatory values"
            return ["No supplier: set ContactRef on the transaction or a default supplier in the company's "
                    "Expenses configuration."]
        if supplier_id not in ledger.suppliers:
            return [f"No supplier was found with ID {supplier_id}."]
        supplier = ledger.suppliers[supplier_id]
    single = supplier.get("defaultCurrency")
    if currency and single and single != currency:
        # codat-docs config-and-categorize.md "Supplier currency considerations"
        return [f"The supplier's currency {single} must match the transaction's currency {currency}."]
    return []


def _bank_problems(body: dict[str, Any], ledger: Ledger) -> list[str]:
    bank_id = _ref_id(body, "bankAccountRef") or (_ref_id(ledger.config, "bankAccount") if ledger.config else None)
    if not bank_id:
        # codat-docs docs/expenses/config-and-categorize.md "Default and mandatory values"
        return ["No bank account: set BankAccountRef on the transaction or a default bank account in the "
                "company's Expenses configuration."]
    if bank_id not in ledger.bank_account_ids:
        return [f"No bank account was found with ID {bank_id}."]
    return []


def _line_problems(lines: Any, ledger: Ledger, valid_for: str, kind: str) -> list[str]:
    if not isinstance(lines, list) or not lines:
        return ["At least one line must be provided."]  # spec lines minItems 1 (sandbox choice: required)
    problems: list[str] = []
    item_ref_allowed = rules_for(ledger.platform_key).item_ref
    for index, line in enumerate(lines):
        where = f"Line {index + 1}"
        if not isinstance(line, dict):
            problems.append(f"{where} must be an object.")
            continue
        net, tax = line.get("netAmount"), line.get("taxAmount")
        if not _number(net):
            problems.append(f"{where}: NetAmount must be provided as a number.")
        elif net < 0 or (_number(tax) and tax < 0):
            # sandbox choice: the type says which way the money goes (codat-docs expense-transactions.md
            # "Transaction types"), so amounts are never negative.
            problems.append(f"{where}: amounts must not be negative; send a {'Refund' if kind == 'Payment' else kind}"
                            " type instead of a negative amount.")
        if tax is not None and not _number(tax):
            problems.append(f"{where}: TaxAmount must be a number.")
        account_id, item_id = _ref_id(line, "accountRef"), _ref_id(line, "itemRef")
        if item_id and not item_ref_allowed:
            problems.append(f"{where}: ItemRef is supported only for QuickBooks Desktop; use AccountRef.")
        elif item_id and account_id:
            problems.append(f"{where}: send AccountRef or ItemRef, not both.")
        elif not account_id and not item_id:
            problems.append(f"{where}: AccountRef.Id must be provided.")
        elif account_id:
            account = ledger.accounts.get(account_id)
            if account is None:
                problems.append(f"{where}: no account was found with ID {account_id}.")
            elif valid_for not in account["validFor"]:
                # codat-docs config-and-categorize.md "Accounts": validTransactionTypes / validFor
                problems.append(f"{where}: account {account['name']} is not valid for {valid_for}; choose an "
                                "account whose mapping options allow it.")
        problems += _tax_problems(line, ledger, where, kind, valid_for == REIMBURSABLE)
        problems += _tracking_problems(line.get("trackingRefs"), ledger, where)
    return problems


def _tax_problems(line: dict[str, Any], ledger: Ledger, where: str, kind: str, reimbursable: bool) -> list[str]:
    tax_rate_id = _ref_id(line, "taxRateRef")
    if line.get("taxRateRef") is None:
        return []
    tax_rate = ledger.tax_rates.get(tax_rate_id)
    if tax_rate is None:
        return [f"{where}: no tax rate was found with ID {tax_rate_id}."]
    if not reimbursable and kind not in tax_rate["validTransactionTypes"]:
        # codat-docs config-and-categorize.md "Tax rates"; spec TaxRateMappingInfo.validTransactionTypes
        return [f"{where}: tax rate {tax_rate['name']} is not valid for {kind} transactions."]
    net, tax = line.get("netAmount"), line.get("taxAmount")
    if _number(net) and _number(tax):
        expected = (Decimal(net) * Decimal(tax_rate["effectiveTaxRate"]) / 100).quantize(Decimal("0.01"))
        if abs(Decimal(tax) - expected) > TAX_TOLERANCE:
            # sandbox choice: Codat's docs do not say what a ledger does with tax that disagrees with the rate; refusing
            # it is the stricter choice
            return [f"{where}: TaxAmount {tax} does not match {tax_rate['name']} on NetAmount {net} "
                    f"(expected {expected})."]
    return []


def _tracking_problems(refs: Any, ledger: Ledger, where: str) -> list[str]:
    if refs is None:
        return []
    if not isinstance(refs, list) or not 1 <= len(refs) <= 10:  # spec trackingRefs minItems 1, maxItems 10
        return [f"{where}: TrackingRefs must hold between 1 and 10 references."]
    problems: list[str] = []
    for ref in refs:
        ref_id = ref.get("id") if isinstance(ref, dict) else None
        data_type = (ref.get("dataType") if isinstance(ref, dict) else None) or "trackingCategories"
        if data_type == "customers":
            if ref_id not in ledger.customers:
                problems.append(f"{where}: no customer was found with ID {ref_id}.")
        elif ref_id not in ledger.tracking:
            problems.append(f"{where}: no tracking category was found with ID {ref_id}.")
        elif ledger.tracking[ref_id]["hasChildren"]:
            # sandbox choice: a parent (e.g. "Departments") is a heading, not a category to book to
            problems.append(f"{where}: tracking category {ledger.tracking[ref_id]['name']} has sub-categories; "
                            "choose one of them.")
    return problems


def update_refusal(rules: ExpenseRules, original_type: str | None, body: dict[str, Any]) -> str | None:
    """Why Codat answers 422 to an update (spec update-expense-transaction: Payment type only)."""
    if not rules.updates:
        return f"Expense transaction updates are not supported for {rules.name}."
    if original_type != "Payment" or body.get("type") != "Payment":
        return "Only Payment expense transactions can be updated."
    return None
