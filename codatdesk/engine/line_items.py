"""A direct cost's ``lineItems`` from an expense's lines: each line's account, tax rate and tracking.

Line 1 is the expense's own account and tax code (``store/lines.py`` keeps them equal), resolved with
the expense (``Resolver.resolve``), so an account codatdesk must create first is line 1's only. Every
other line's account must already be in the ledger (or mapped): sandbox choice, one prerequisite per
expense, as for a new supplier and a new account together.

Tracking goes in ``lineItems[].tracking.recordRefs[{id, dataType: "trackingCategories"}]``, the
Accounting API's directCost schema (``tests/openapi/Codat-Accounting-2023.json``, ``DirectCost``
definitions ``tracking``: ``recordRefs`` required); the value is a tracking category's id, name or a
saved mapping (kind ``tracking``), and never a category with sub-categories (sandbox choice: Xero books
against a category's options).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from codatdesk.engine.reference import CREATED, Resolution, Resolver
from codatdesk.lines import Line
from codatdesk.store.models import Expense

TRACKING_DATA_TYPE = "trackingCategories"


def tracking_refs(resolver: Resolver, values: Sequence[str], number: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The line's ``recordRefs`` and, for what does not resolve, the reason and fix naming the line."""
    refs: list[dict[str, Any]] = []
    problems: list[str] = []
    for value in values:
        match = resolver.explain("tracking", value)
        if match.problem or not match.codat_id:
            problems.append(f"line {number}: {match.problem or match.how}")
        elif match.codat_id in resolver.parent_categories:
            problems.append(f"line {number}: tracking category {value} has sub-categories; choose one of them "
                            f"(edit the expense's line)")
        else:
            refs.append({"id": match.codat_id, "dataType": TRACKING_DATA_TYPE})
    return refs, problems


def build_line_items(expense: Expense, lines: Sequence[Line], res: Resolution,
                     resolver: Resolver, account_placeholder: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``lineItems`` of the expense's direct cost, and what stops them (empty: all resolved)."""
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        account_id: str | None
        if number == 1:
            account_id, tax_rate_id = res.account_id or account_placeholder, res.tax_rate_id
        else:
            account = resolver.explain("account", line.account_code)
            tax = resolver.explain("taxRate", line.tax_code, tax=line.tax)
            account_id, tax_rate_id = account.codat_id, tax.codat_id
            if account.outcome == CREATED or (not account.codat_id and not account.problem):
                problems.append(f"line {number}: account {line.account_code} is not in the ledger; only line 1's "
                                "account can be created first: map it in Mappings, or add it to the ledger and refresh")
            elif account.problem:
                problems.append(f"line {number}: {account.problem}")
            if tax.problem:
                problems.append(f"line {number}: {tax.problem}")
        refs, tracking_problems = tracking_refs(resolver, line.tracking, number)
        problems.extend(tracking_problems)
        item: dict[str, Any] = {
            "description": line.description or expense.description or expense.supplier_name,
            "unitAmount": line.net,
            "quantity": Decimal(1),
            "subTotal": line.net,
            "taxAmount": line.tax,
            "totalAmount": line.net + line.tax,
            "accountRef": {"id": account_id},
            "taxRateRef": {"id": tax_rate_id},
        }
        if refs:
            item["tracking"] = {"recordRefs": refs}
        items.append(item)
    return items, problems
