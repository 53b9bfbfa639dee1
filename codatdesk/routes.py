"""How a company's expenses reach Codat: its push route, and what each route refuses.

Two routes (issue #16): Codat's Accounting API as ``directCosts`` (what codatdesk has always sent)
and Codat's Sync for Expenses (``expense-transactions``, sent by ``engine/expenses_route.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the window imports the labels at start; the store loads when first used
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

DIRECT_COSTS = "directCosts"
EXPENSES = "expenses"
ROUTES = (DIRECT_COSTS, EXPENSES)
LABELS = {DIRECT_COSTS: "Direct costs", EXPENSES: "Expenses"}


class _Claimable(Protocol):
    is_claim: bool
    employee: str
    transaction_type: str | None


def parse_route(text: str) -> str:
    """The route a person typed (any case; "direct-costs" too), or ValueError naming the choices."""
    wanted = text.strip().replace("-", "").replace("_", "").casefold()
    for route in ROUTES:
        if route.casefold() == wanted:
            return route
    raise ValueError(f"{text!r} is not a push route: use {' or '.join(ROUTES)}")


def label(route: str | None) -> str:
    return LABELS.get(route or DIRECT_COSTS, route or "")


def route_refusal(route: str | None, expense: _Claimable) -> str | None:
    """Why an expense cannot be pushed on its company's route (None: the route takes it)."""
    if (route or DIRECT_COSTS) == EXPENSES:
        return None  # the Expenses route takes every transaction type and claims (engine/expenses_route.py)
    kind = getattr(expense, "transaction_type", None)
    if kind and kind != "Payment":
        # codat-docs docs/expenses/sync-process/expense-transactions.md, "Transaction types": refunds, rewards
        # and chargebacks are types of Codat's expense transactions; a direct cost has no type, only a sign.
        return (f"a {kind.lower()} is one of Codat's expense transaction types, which only the Expenses route "
                "sends; a direct cost would book it as money spent: switch the company to the Expenses route "
                "(codatdesk route expenses), or clear the type")
    if expense.is_claim:
        # codat-docs docs/expenses/sync-process/reimbursable-expense-transactions.md: a reimbursable expense
        # is a bill against the employee as supplier; a direct cost is money already paid from a company
        # account. Refusing the claim here (rather than booking it as paid) is a codatdesk choice.
        return ("an employee claim is owed to the employee (Codat books it as a bill against the employee "
                "through its Expenses route), not a cost the company already paid, which a direct cost is: "
                "switch the company to the Expenses route (codatdesk route expenses), or clear the claim mark")
    return None


def company_route(session: Session, company_id: str) -> str:
    """The company's push route; a company not stored yet is on the default."""
    from codatdesk.store.models import Company

    company = session.get(Company, company_id)
    return company.push_route if company is not None and company.push_route else DIRECT_COSTS


def set_route(db: Engine, company_id: str, route: str) -> None:
    """Put a company on a route (``parse_route`` first). Its expenses keep their status: a row already in
    the ledger stays there, and the next push takes the new route."""
    if route not in ROUTES:
        raise ValueError(f"{route!r} is not a push route: use {' or '.join(ROUTES)}")
    from codatdesk.store.db import session_scope
    from codatdesk.store.models import Company

    with session_scope(db) as session:
        company = session.get(Company, company_id)
        if company is None:
            raise LookupError(f"no company {company_id}")
        company.push_route = route
        session.add(company)
