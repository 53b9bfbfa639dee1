"""Integration profiles: the rules of the ledger behind each sandbox connection, by Codat platform key.

A company's profile is its accounting connection's ``integrationKey`` (keys in
``codatdesk.integrations``). Each profile serves its own create models at
``GET .../options/{directCosts,chartOfAccounts,suppliers}`` and enforces them when a push completes,
on top of the rules every profile shares (``codatdesk.sandbox.state``). The source of each rule is
named where it is encoded; "oas model" means the integration's example of that create model in
codatio/oas ``Codat-Accounting.json`` (2023), ``GET .../options/{dataType}``
(tests/openapi/Codat-Accounting-2023.json keeps the chartOfAccounts and directCosts ones).
``docs/ledger-rules.md`` lists every rule with its source and test.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from codatdesk import integrations

from . import reference_data as ref
from .suppliers import SupplierRules, supplier_options

XERO_CATEGORIES = (  # oas model, Xero chartOfAccounts fullyQualifiedCategory options
    "Asset.Current", "Asset.Fixed", "Asset.Inventory", "Asset.NonCurrent", "Asset.Prepayment",
    "Expense.DirectCosts", "Expense.Expense", "Expense.Overhead", "Expense.Superannuation", "Expense.Wages",
    "Income.Sales", "Income.Revenue", "Income.Other", "Liability.Current", "Liability.Depreciation",
    "Liability.Liability", "Liability.NonCurrent", "Liability.PayAsYouGo", "Liability.Superannuation",
    "Liability.WagesPayable", "Equity.Equity",
)
QBO_CATEGORIES = (  # a subset of the oas model's 276 QuickBooks Online options (sandbox choice: the common ones)
    "Asset.Bank.Checking", "Asset.Bank.Savings", "Asset.Bank.CashOnHand", "Asset.Other Current Asset.PrepaidExpenses",
    "Asset.Fixed Asset.FixedAssetComputers", "Liability.Credit Card.CreditCard",
    "Liability.Other Current Liability.OtherCurrentLiabilities", "Equity.Equity.OpeningBalanceEquity",
    "Income.Income.SalesOfProductIncome", "Income.Income.ServiceFeeIncome",
    "Expense.Expense.AdvertisingPromotional", "Expense.Expense.BankCharges", "Expense.Expense.Entertainment",
    "Expense.Expense.OfficeGeneralAdministrativeExpenses", "Expense.Expense.OtherBusinessExpenses",
    "Expense.Expense.SuppliesMaterials", "Expense.Expense.Travel", "Expense.Expense.TravelMeals",
    "Expense.Expense.Utilities", "Expense.Other Expense.OtherMiscellaneousExpense",
    "Expense.Cost of Goods Sold.SuppliesMaterialsCogs", "Expense.Cost of Goods Sold.CostOfSales",
)
QBD_CATEGORIES = (  # oas model, QuickBooks Desktop chartOfAccounts options
    "Asset.AccountsReceivable", "Asset.FixedAsset", "Asset.OtherCurrentAsset", "Asset.OtherAsset", "Income.Income",
    "Income.OtherIncome", "Liability.AccountsPayable", "Liability.CreditCard", "Liability.LongTermLiability",
    "Liability.OtherCurrentLiability", "Liability.CostOfGoodsSold", "Equity.Equity", "Expense.Expense",
    "Expense.OtherExpense",
)

# What a profile does with a foreign-currency direct cost sent without currencyRate.
REFUSE = "refuse"
BOOK_AT_ONE = "book at 1"
# What a profile does with a negative direct cost.
REVERSE = "receive money"


@dataclass(frozen=True)
class Profile:
    key: str
    name: str
    nominal_code_max: int | None
    nominal_code_required: bool
    account_name_max: int | None
    account_categories: tuple[str, ...]
    reference_max: int | None
    contact_required: bool
    payment_currency_must_match: bool
    foreign_without_rate: str
    negative: str
    suppliers: SupplierRules = field(default_factory=SupplierRules)

    @property
    def on_premise(self) -> bool:
        return integrations.is_on_premise(self.key)


XERO = Profile(
    key=integrations.XERO, name="Xero",
    nominal_code_max=10, nominal_code_required=True,  # oas model; codat-docs docs/using-the-api/push.md
    account_name_max=None, account_categories=XERO_CATEGORIES,
    reference_max=255,  # oas model "Must not exceed 255 characters."; codat-docs docs/payables/sync/update-bill.md
    contact_required=True,  # oas model contactRef required; codat-docs xero/use-cases/general-lending.md
    # codat-docs docs/expenses/fx-management.md: no conversion between two non-base currencies; its Xero
    # table accepts a base-currency bank for a foreign expense ("Same as O1"), so that is not refused.
    payment_currency_must_match=True,
    foreign_without_rate=REFUSE,  # codat-docs docs/expenses/fx-management.md "you must specify the exchange rate"
    negative=REVERSE,  # codat-docs docs/integrations/accounting/xero/xero-faq.md; oas model warning
    suppliers=SupplierRules(registration_number_max=50, statuses=("Active", "InActive")),
)
QUICKBOOKS_ONLINE = Profile(
    key=integrations.QUICKBOOKS_ONLINE, name="QuickBooks Online",
    nominal_code_max=7, nominal_code_required=False,  # oas model "length between 1 and 7 characters"
    account_name_max=100,  # oas model "Must have a length between 1 and 100 characters"
    account_categories=QBO_CATEGORIES,
    reference_max=21,  # oas model "Must be less than 22 characters."; codat-docs update-bill.md (QBO 21)
    contact_required=True,  # oas model contactRef required, dataType Suppliers
    payment_currency_must_match=False,
    foreign_without_rate=BOOK_AT_ONE,  # oas currencyRate description, "QuickBooks Online"
    negative=REFUSE,  # sandbox choice: Codat documents no negative direct cost handling for QBO
    suppliers=SupplierRules(status_required=True, name_from_contact_name=True),  # docs/payables/sync/suppliers.md
)
QUICKBOOKS_DESKTOP = Profile(
    key=integrations.QUICKBOOKS_DESKTOP, name="QuickBooks Desktop",
    nominal_code_max=7, nominal_code_required=True,  # oas model "Max length of 7 characters."
    account_name_max=31,  # oas model "Max length of 31 characters."
    account_categories=QBD_CATEGORIES,
    reference_max=None, contact_required=False,  # oas model: contactRef optional
    payment_currency_must_match=False,
    foreign_without_rate=BOOK_AT_ONE,  # oas model currencyRate: "if no rate is set ... it will default to 1"
    negative=REFUSE,  # sandbox choice: undocumented
    suppliers=SupplierRules(name_max=41, tax_number_max=30, status_required=True),  # oas options/suppliers model
)
PROFILES: dict[str, Profile] = {p.key: p for p in (XERO, QUICKBOOKS_ONLINE, QUICKBOOKS_DESKTOP)}
PROFILES[integrations.QUICKBOOKS_ONLINE_SANDBOX] = QUICKBOOKS_ONLINE


def profile_for(platform_key: str | None) -> Profile:
    return PROFILES.get(platform_key or "", XERO)


# -- rules on push ------------------------------------------------------------------------

def _item(item_id: str, message: str, validator: str) -> dict[str, Any]:
    return {"itemId": item_id, "message": message, "validatorName": validator}


def _number(value: Any) -> Decimal | None:
    return value if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else None


def _line_total(line: dict[str, Any]) -> Decimal:
    total = _number(line.get("totalAmount"))
    if total is not None:
        return Decimal(total)
    quantity, unit = _number(line.get("quantity")), _number(line.get("unitAmount"))
    return Decimal(quantity) * Decimal(unit) if quantity is not None and unit is not None else Decimal(0)


def is_negative(body: dict[str, Any]) -> bool:
    total = _number(body.get("totalAmount"))
    return total is not None and total < 0


def direct_cost_errors(body: Any, profile: Profile, accounts: dict[str, dict[str, Any]],
                       base_currency: str) -> list[dict[str, Any]]:
    """The profile's own refusals of a direct cost (the shared ones are in state.evaluate_direct_cost)."""
    if not isinstance(body, dict):
        return []
    validator = "DirectCost"
    errors: list[dict[str, Any]] = []
    if profile.contact_required and not isinstance(body.get("contactRef"), dict):
        errors.append(_item("ContactRef", "ContactRef must be provided.", "Contact"))
    reference = body.get("reference")
    if profile.reference_max and isinstance(reference, str) and len(reference) > profile.reference_max:
        errors.append(_item("Reference", f"Reference Length must be less than or equal to {profile.reference_max}.",
                            validator))
    currency = body.get("currency")
    valid_currency = isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()
    if (profile.foreign_without_rate == REFUSE and valid_currency and currency != base_currency
            and body.get("currencyRate") is None):
        errors.append(_item("CurrencyRate", f"CurrencyRate must be provided: {currency} is not the base currency "
                                            f"{base_currency}.", validator))
    if profile.payment_currency_must_match:
        for index, allocation in enumerate(body.get("paymentAllocations") or []):
            payment = allocation.get("payment") if isinstance(allocation, dict) else None
            account_ref = payment.get("accountRef") if isinstance(payment, dict) else None
            account = accounts.get(account_ref.get("id")) if isinstance(account_ref, dict) else None
            if account is not None and account.get("currency") not in (currency, base_currency):
                errors.append(_item(f"PaymentAllocations[{index}].Payment.AccountRef.Id",
                                    f"The bank account's currency {account.get('currency')} must be the direct "
                                    f"cost's currency {currency} or the base currency {base_currency}.", "Account"))
    lines = [line for line in body.get("lineItems") or [] if isinstance(line, dict)]
    signs = {_line_total(line) < 0 for line in lines if _line_total(line) != 0}
    if is_negative(body) or True in signs:
        if profile.negative == REFUSE:
            errors.append(_item("TotalAmount", f"{profile.name} does not accept a negative direct cost.", validator))
        elif len(signs) > 1:  # oas Xero model: "When one line is negative, all lines must be negative."
            errors.append(_item("LineItems", "When one line is negative, all lines must be negative.", validator))
    return errors


def direct_cost_warnings(body: dict[str, Any], profile: Profile) -> list[dict[str, Any]]:
    if profile.negative == REVERSE and is_negative(body):
        return [_item("DirectCost", "When negative, the push item will be converted to a DirectIncome and will be "
                                    "pushed accordingly.", "DirectCost")]
    return []


def account_errors(body: Any, profile: Profile) -> list[dict[str, Any]]:
    """The profile's create model for accounts: code and name lengths, categories."""
    if not isinstance(body, dict):
        return []
    errors: list[dict[str, Any]] = []
    code, name, category = body.get("nominalCode"), body.get("name"), body.get("fullyQualifiedCategory")
    if profile.nominal_code_required and (not isinstance(code, str) or not code.strip()):
        errors.append(_item("NominalCode", "NominalCode must be provided.", "Account"))
    elif isinstance(code, str) and profile.nominal_code_max and len(code) > profile.nominal_code_max:
        errors.append(_item("NominalCode", f"NominalCode has a max length of {profile.nominal_code_max} characters.",
                            "Account"))
    if isinstance(name, str) and profile.account_name_max and len(name) > profile.account_name_max:
        errors.append(_item("Name", f"Name has a max length of {profile.account_name_max} characters.", "Account"))
    if category not in profile.account_categories:
        errors.append(_item("FullyQualifiedCategory",
                            f"FullyQualifiedCategory {category!r} is not one of the allowed options.", "Account"))
    return errors


# -- create models (GET .../options/{dataType}) ---------------------------------------------

def _rule(field_name: str, details: str) -> dict[str, str]:
    return {"field": field_name, "details": details}


def options(profile: Profile, data_type: str) -> dict[str, Any] | None:
    if data_type == "suppliers":
        return supplier_options(profile.suppliers)
    if data_type == "chartOfAccounts":
        model = ref.chart_of_accounts_options()
        props = model["properties"]
        code = props["nominalCode"]
        code["required"] = profile.nominal_code_required
        code["validation"] = {"warnings": [_rule("NominalCode", f"Max length of {profile.nominal_code_max} "
                                                                "characters.")], "information": []}
        if profile.account_name_max:
            props["name"]["validation"] = {"warnings": [_rule("Name", f"Max length of {profile.account_name_max} "
                                                                      "characters.")], "information": []}
        props["fullyQualifiedCategory"]["options"] = [
            {"value": c, "type": "String", "displayName": c.replace(".", " - "), "required": False}
            for c in profile.account_categories]
        return model
    if data_type == "directCosts":
        model = copy.deepcopy(ref.direct_cost_options())
        props = model["properties"]
        props["contactRef"]["required"] = profile.contact_required
        props["contactRef"]["properties"]["id"]["required"] = True
        if profile.reference_max:
            props["reference"]["validation"] = {"warnings": [], "information": [
                _rule("Reference", f"Must not exceed {profile.reference_max} characters.")]}
        if profile.negative == REVERSE:
            model["validation"] = {"warnings": [_rule("DirectCost", "When negative, the push item will be converted "
                                                                    "to a DirectIncome and will be pushed "
                                                                    "accordingly.")], "information": []}
        if profile.payment_currency_must_match:
            account_id = props["paymentAllocations"]["properties"]["payment"]["properties"]["accountRef"]
            account_id["properties"]["id"]["validation"]["warnings"].append(
                _rule("Payment.AccountRef.Id", "Must be in the currency of the direct cost or the base currency."))
        if profile.foreign_without_rate == REFUSE:
            props["currencyRate"]["validation"] = {"warnings": [_rule(
                "CurrencyRate", "Must be provided when the currency is not the base currency.")], "information": []}
        return model
    return None
