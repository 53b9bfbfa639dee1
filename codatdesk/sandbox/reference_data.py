"""Demo ledger content (a small Xero-like UK company) and the push option models.

Shapes follow Codat's Accounting-2023 schemas (Account, Supplier, TaxRate, BankAccount)
and the Platform ``PushOption`` model; the values are invented.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

DEMO_COMPANY_NAME = "Demo Trading Ltd"
DEMO_CURRENCY = "GBP"
PLATFORM_KEY = "gbol"
PLATFORM_NAME = "Xero"

# (nominalCode, name, fullyQualifiedCategory, isBankAccount)
_ACCOUNTS: tuple[tuple[str, str, str, bool], ...] = (
    ("090", "Business Bank Account", "Asset.Current", True),
    ("091", "Company Credit Card", "Liability.Current", True),
    ("200", "Sales", "Income.Revenue", False),
    ("310", "Cost of Goods Sold", "Expense.DirectCosts", False),
    ("400", "Advertising", "Expense.Overhead", False),
    ("408", "Cleaning", "Expense.Overhead", False),
    ("420", "Entertainment", "Expense.Overhead", False),
    ("429", "General Expenses", "Expense.Overhead", False),
    ("461", "Printing & Stationery", "Expense.Overhead", False),
    ("489", "Telephone & Internet", "Expense.Overhead", False),
    ("493", "Travel", "Expense.Overhead", False),
    ("800", "Accounts Payable", "Liability.Current", False),
)

_SUPPLIERS: tuple[tuple[str, str], ...] = (
    ("Acme Office Supplies", "orders@acme-office.example"),
    ("Northern Rail", "tickets@northern-rail.example"),
    ("Printworks Ltd", "hello@printworks.example"),
    # The suppliers of resources/sample-expenses.csv (and the README screenshots): codatdesk does not
    # create suppliers yet, and an expense whose supplier is not in the ledger is not sent.
    ("Adobe", "billing@adobe.example"),
    ("Amazon Business", "orders@amazon-business.example"),
    ("Amazon Web Services", "billing@aws.example"),
    ("Costa Coffee", "accounts@costa.example"),
    ("Figma", "billing@figma.example"),
    ("Google Ads", "billing@google-ads.example"),
    ("Premier Inn", "stays@premier-inn.example"),
    ("Pret A Manger", "accounts@pret.example"),
    ("Royal Mail", "business@royal-mail.example"),
    ("Shell", "fuel@shell.example"),
    ("Staples", "orders@staples.example"),
    ("Trainline", "tickets@trainline.example"),
    ("Uber", "business@uber.example"),
    ("WeWork", "billing@wework.example"),
)

# (code, name, rate)
_TAX_RATES: tuple[tuple[str, str, str], ...] = (
    ("INPUT2", "20% (VAT on Expenses)", "20"),
    ("INPUT", "5% (VAT on Expenses)", "5"),
    ("ZERORATEDINPUT", "Zero Rated Expenses", "0"),
    ("NONE", "No VAT", "0"),
)

ACCOUNT_CATEGORIES: tuple[str, ...] = (
    "Asset.Current",
    "Asset.Fixed",
    "Asset.Inventory",
    "Asset.NonCurrent",
    "Asset.Prepayment",
    "Equity.Equity",
    "Expense.DirectCosts",
    "Expense.Expense",
    "Expense.Overhead",
    "Income.Other",
    "Income.Revenue",
    "Income.Sales",
    "Liability.Current",
    "Liability.NonCurrent",
)


def account_record(
    account_id: str,
    nominal_code: str | None,
    name: str | None,
    category: str | None,
    is_bank_account: bool,
    now: str,
    *,
    description: str | None = None,
    currency: str = DEMO_CURRENCY,
    balance: Decimal = Decimal("0"),
) -> dict[str, Any]:
    account_type = category.split(".")[0] if category else "Unknown"
    if account_type not in ("Asset", "Expense", "Income", "Liability", "Equity"):
        account_type = "Unknown"
    return {
        "id": account_id,
        "nominalCode": nominal_code,
        "name": name,
        "description": description,
        "fullyQualifiedCategory": category,
        "fullyQualifiedName": f"{category}.{name}" if category and name else None,
        "currency": currency,
        "currentBalance": balance,
        "type": account_type,
        "status": "Active",
        "isBankAccount": is_bank_account,
        "validDatatypeLinks": [],
        "metadata": {"isDeleted": False},
        "modifiedDate": now,
        "sourceModifiedDate": now,
    }


def demo_accounts(new_id: Callable[[], str], now: str) -> list[dict[str, Any]]:
    return [
        account_record(new_id(), code, name, category, is_bank, now,
                       balance=Decimal("12500.00") if code == "090" else Decimal("0"))
        for code, name, category, is_bank in _ACCOUNTS
    ]


def demo_suppliers(new_id: Callable[[], str], now: str) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id(),
            "supplierName": name,
            "contactName": None,
            "emailAddress": email,
            "phone": None,
            "addresses": [],
            "registrationNumber": None,
            "taxNumber": None,
            "status": "Active",
            "defaultCurrency": DEMO_CURRENCY,
            "metadata": {"isDeleted": False},
            "modifiedDate": now,
            "sourceModifiedDate": now,
        }
        for name, email in _SUPPLIERS
    ]


def demo_tax_rates(new_id: Callable[[], str], now: str) -> list[dict[str, Any]]:
    return [
        {
            "id": code,
            "name": name,
            "code": code,
            "status": "Active",
            "effectiveTaxRate": Decimal(rate),
            "totalTaxRate": Decimal(rate),
            "components": [{"name": name, "rate": Decimal(rate), "isCompound": False}],
            "validDatatypeLinks": [],
            "metadata": {"isDeleted": False},
            "modifiedDate": now,
            "sourceModifiedDate": now,
        }
        for code, name, rate in _TAX_RATES
    ]


def bank_account_view(account: dict[str, Any]) -> dict[str, Any]:
    """The BankAccount record Codat shows for a bank-type ledger account (Xero shares the id)."""
    is_credit = (account.get("fullyQualifiedCategory") or "").startswith("Liability")
    return {
        "id": account["id"],
        "accountName": account["name"],
        "accountType": "Credit" if is_credit else "Debit",
        "nominalCode": account["nominalCode"],
        "sortCode": None if is_credit else "40-12-34",
        "accountNumber": None if is_credit else "12345678",
        "iBan": None,
        "currency": account["currency"],
        "balance": account["currentBalance"],
        "institution": "Sandbox Bank",
        "availableBalance": account["currentBalance"],
        "overdraftLimit": None,
        "metadata": {"isDeleted": False},
        "modifiedDate": account["modifiedDate"],
        "sourceModifiedDate": account["sourceModifiedDate"],
    }


def _option(kind: str, name: str, description: str, required: bool, **extra: Any) -> dict[str, Any]:
    option: dict[str, Any] = {"type": kind, "displayName": name, "description": description, "required": required}
    option.update(extra)
    return option


def _rule(field: str, details: str) -> dict[str, str]:
    return {"field": field, "details": details}


def direct_cost_options() -> dict[str, Any]:
    """What the sandbox validates for directCosts (see state.py), expressed as a PushOption model."""
    ref_id = lambda field, what: _option(  # noqa: E731 - tiny local factory
        "String", "Identifier", f"The identifier of an existing {what}", True,
        validation={"warnings": [_rule(field, f"Must match the ID of an existing {what}.")], "information": []},
    )
    line_items = _option(
        "Array", "Direct Cost Lines", "Lines of the direct cost", True,
        properties={
            "description": _option("String", "Description", "Friendly name of the goods or services", False),
            "quantity": _option("Number", "Quantity", "Number of units", True),
            "unitAmount": _option("Number", "Unit Amount", "Price of each unit", True),
            "subTotal": _option("Number", "Sub Total", "Line amount excluding tax", False),
            "taxAmount": _option("Number", "Tax Amount", "Tax on the line", False),
            "totalAmount": _option("Number", "Total Amount", "Line amount including tax", False),
            "accountRef": _option(
                "Object", "Account Reference", "The expense account of the line", True,
                properties={"id": ref_id("LineItems.AccountRef.Id", "account")},
            ),
            "taxRateRef": _option(
                "Object", "Tax Rate Reference", "The tax rate of the line", False,
                properties={"id": ref_id("LineItems.TaxRateRef.Id", "tax rate")},
            ),
            # DirectCost.lineItems[].tracking (Codat-Accounting-2023.json: recordRefs required).
            "tracking": _option(
                "Object", "Tracking", "The tracking categories of the line", False,
                properties={"recordRefs": _option(
                    "Array", "Record References", "Tracking categories the line is booked against", True,
                    properties={"id": _option(
                        "String", "Identifier", "The identifier of an existing tracking category", True,
                        validation={"warnings": [_rule("LineItems.Tracking.RecordRefs.Id",
                                                       "Must match the ID of an existing tracking category.")],
                                    "information": []}),
                                "dataType": _option("String", "Data Type", "trackingCategories", False)})},
            ),
        },
        validation={"warnings": [], "information": [_rule("LineItems", "At least one line is required.")]},
    )
    payment_allocations = _option(
        "Array", "Payment Allocations", "The payment that settled the direct cost", True,
        properties={
            "payment": _option(
                "Object", "Payment", "The payment to be allocated", True,
                properties={
                    "accountRef": _option(
                        "Object", "Account Reference", "The bank or card account the money left from", True,
                        properties={"id": _option(
                            "String", "Account ID", "The identifier of a bank account", True,
                            validation={"warnings": [_rule("Payment.AccountRef.Id", "Must be a bank account.")],
                                        "information": []},
                        )},
                    ),
                },
            ),
            "allocation": _option(
                "Object", "Allocation", "The allocation information", True,
                properties={"totalAmount": _option("Number", "Total Amount", "The amount allocated", False)},
            ),
        },
    )
    return _option(
        "Object", "Direct Cost", "Direct Cost", True,
        properties={
            "issueDate": _option("DateTime", "Issue Date", "The date the direct cost was issued", True),
            "reference": _option("String", "Reference", "User friendly reference", False,
                                 validation={"warnings": [], "information": [_rule("Reference", "Must not exceed 255 characters.")]}),
            "note": _option("String", "Note", "A note attached to the direct cost", False),
            "currency": _option("String", "Currency", "ISO 4217 currency code", True,
                                validation={"warnings": [_rule("Currency", "Must be a 3-letter ISO 4217 code.")], "information": []}),
            "currencyRate": _option("Number", "Currency Exchange Rate", "Rate to the base currency", False),
            "subTotal": _option("Number", "Sub Total", "Total excluding tax", True),
            "taxAmount": _option("Number", "Tax Amount", "Total tax", True),
            "totalAmount": _option("Number", "Total Amount", "Total including tax", True,
                                   validation={"warnings": [_rule("TotalAmount", "Must equal SubTotal + TaxAmount.")], "information": []}),
            "contactRef": _option(
                "Object", "Contact Ref", "The supplier, if known", False,
                properties={"id": ref_id("ContactRef.Id", "supplier")},
            ),
            "lineItems": line_items,
            "paymentAllocations": payment_allocations,
        },
    )


def chart_of_accounts_options() -> dict[str, Any]:
    categories = [
        {"value": category, "type": "String", "displayName": category.replace(".", " - "), "required": False}
        for category in ACCOUNT_CATEGORIES
    ]
    return _option(
        "Object", "Nominal Account", "Nominal accounts are the categories a business uses to record transactions", True,
        properties={
            "nominalCode": _option("String", "Nominal Code", "Identifier for the nominal account.", True,
                                   validation={"warnings": [_rule("NominalCode", "Max length of 10 characters."),
                                                            _rule("NominalCode", "Must be unique.")], "information": []}),
            "name": _option("String", "Name", "Name of the account.", True),
            "description": _option("String", "Description", "Description for the nominal account.", False),
            "fullyQualifiedCategory": _option("String", "Fully Qualified Category",
                                              "Account type and category for nominal account.", True, options=categories),
            "currency": _option("String", "Currency", "ISO 4217 currency code", False),
            "isBankAccount": _option("Boolean", "Is Bank Account", "Whether the account is a bank account", False),
        },
    )


PUSH_OPTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "directCosts": direct_cost_options,
    "chartOfAccounts": chart_of_accounts_options,
}  # the shared skeleton; each integration's own model: ``sandbox.profiles.options``


# Tracking categories (departments and projects): (id, name, parentId). Ids in the shape of Codat's
# mappingOptions examples ("DEPARTMENT_1" under "DEPARTMENTS", Codat-Sync-Expenses.json
# TrackingCategoryMappingInfo); the names are invented.
_TRACKING_CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("DEPARTMENTS", "Departments", None),
    ("DEPARTMENT_1", "Sales", "DEPARTMENTS"),
    ("DEPARTMENT_2", "Engineering", "DEPARTMENTS"),
    ("DEPARTMENT_3", "Finance", "DEPARTMENTS"),
    ("PROJECTS", "Projects", None),
    ("PROJECT_1", "Website relaunch", "PROJECTS"),
    ("PROJECT_2", "Client onboarding", "PROJECTS"),
)

# Customers (for the Expenses configuration's default customer: rewards and cashback are income).
_CUSTOMERS: tuple[str, ...] = ("Card Rewards", "Cashback Income")


def demo_tracking_categories(now: str) -> list[dict[str, Any]]:
    """TrackingCategory records (Accounting-2023 schema): a parent per kind, leaves beneath it."""
    parents = {parent for _, _, parent in _TRACKING_CATEGORIES if parent}
    return [
        {"id": tid, "name": name, "status": "Active", "parentId": parent, "hasChildren": tid in parents,
         "modifiedDate": now, "sourceModifiedDate": now}
        for tid, name, parent in _TRACKING_CATEGORIES
    ]


def demo_customers(new_id: Callable[[], str], now: str) -> list[dict[str, Any]]:
    return [{"id": new_id(), "customerName": name, "status": "Active", "defaultCurrency": DEMO_CURRENCY,
             "modifiedDate": now, "sourceModifiedDate": now} for name in _CUSTOMERS]
