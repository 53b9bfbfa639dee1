"""Edits a person makes by hand: manual expenses, corrections, mappings.

Core exposes them (``Core.add_expense`` and friends), so the window and any script
make the same writes; their ``ExpenseChanged`` events are published when the write commits
(``store.db.register``). ``bus`` stays in the signatures for callers; the engine's bound bus publishes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from collections.abc import Mapping as ValueMap
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk import transaction_types
from codatdesk.core_api import EDITABLE_STATUSES
from codatdesk.events import EventBus
from codatdesk.importer import MAX_TEXT, ensure_company, looks_like_formula
from codatdesk.lines import Line, line_problems, totals_problems
from codatdesk.money import currency_exponent, is_known_currency
from codatdesk.states import ExpenseStatus
from codatdesk.store.actor import actor_of
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, expense_added, expense_touched
from codatdesk.store.lines import lines_of, write_lines
from codatdesk.store.models import EDITED_FIELDS, Expense, Mapping, utcnow

EDITABLE = EDITABLE_STATUSES
FIELDS = EDITED_FIELDS
LINES = "lines"  # values["lines"]: the expense's lines (``codatdesk.lines.Line`` or dicts of its fields)


# The hand-entry rules, the same for the window and any script (the file import has its own reader).
# Expense attribute -> the plain name a person knows it by.
FIELD_NAMES = {"expense_date": "date", "supplier_name": "supplier", "description": "description",
               "account_code": "account code", "account_name": "account name",
               "bank_account_code": "paid from (bank account)", "tax_code": "tax code", "net": "net", "tax": "tax",
               "total": "total", "currency": "currency", "currency_rate": "rate to base currency",
               "reference": "reference", "is_claim": "employee claim", "employee": "employee",
               "transaction_type": "type", LINES: "lines"}
REQUIRED = ("expense_date", "supplier_name", "account_code", "bank_account_code", "net", "tax", "total", "currency")
TEXT_LIMITS = {"supplier_name": MAX_TEXT["supplier"], "description": MAX_TEXT["description"],
               "account_code": MAX_TEXT["account_code"], "account_name": MAX_TEXT["account_name"],
               "bank_account_code": MAX_TEXT["bank_account"], "tax_code": MAX_TEXT["tax_code"],
               "reference": MAX_TEXT["reference"], "employee": MAX_TEXT["supplier"]}
AMOUNTS = ("net", "tax", "total")


class NotEditable(Exception):
    pass


MISSING, UNBALANCED = "missing", "unbalanced"


@dataclass(frozen=True)
class ExpenseProblem:
    field: str  # the Expense attribute
    text: str  # what is wrong, in plain words
    kind: str = ""  # MISSING, UNBALANCED or "" (the window words these two in the user's number format)


class InvalidExpense(ValueError):
    """Values that break the hand-entry rules: nothing was saved."""

    def __init__(self, problems: list[ExpenseProblem]) -> None:
        self.problems = problems
        super().__init__("The expense was not saved: " + "; ".join(p.text for p in problems) + ".")


def expense_problems(values: ValueMap[str, Any]) -> list[ExpenseProblem]:
    """Every rule a hand-entered expense breaks (empty: it may be saved). ``values`` are typed
    Expense attributes: dates as ``date``, amounts and the rate as ``Decimal`` (never float)."""
    problems: dict[str, ExpenseProblem] = {}

    def problem(field: str, text: str, kind: str = "") -> None:
        problems.setdefault(field, ExpenseProblem(field, text, kind))

    for field in REQUIRED:
        if values.get(field) in (None, ""):
            problem(field, f"{FIELD_NAMES[field]} is required", MISSING)
    for field, limit in TEXT_LIMITS.items():
        text = values.get(field) or ""
        if not isinstance(text, str):
            problem(field, f"{FIELD_NAMES[field]} must be text")
        elif len(text) > limit:
            problem(field, f"at most {limit} characters")
        elif looks_like_formula(text):
            problem(field, "must not start with = + - @ (a spreadsheet would run it as a formula)")
    date = values.get("expense_date")
    if date is not None and not isinstance(date, dt.date):
        problem("expense_date", "use a date like 2024-03-31")
    currency = values.get("currency") or ""
    if currency and not is_known_currency(currency):
        problem("currency", f"{currency!r} is not an ISO 4217 currency code (e.g. GBP, EUR, USD)")
    for field in AMOUNTS:
        amount = values.get(field)
        if amount is None or field in problems:
            continue
        if not isinstance(amount, Decimal) or not amount.is_finite():
            problem(field, f"{FIELD_NAMES[field]} must be an exact amount (Decimal)")
        elif "currency" not in problems and currency and _decimals(amount) > currency_exponent(currency):
            problem(field, f"{amount} has more decimals than {currency} has ({currency_exponent(currency)})")
    rate = values.get("currency_rate")
    if rate is not None and not (isinstance(rate, Decimal) and rate.is_finite()):
        problem("currency_rate", "the rate must be an exact number (Decimal)")
    elif rate is not None and rate <= 0:
        problem("currency_rate", "a rate must be greater than 0")
    if values.get("is_claim") and not str(values.get("employee") or "").strip():
        problem("employee", "an employee claim needs the employee (their supplier name in the ledger)", MISSING)
    kind = values.get("transaction_type")
    if kind is not None and kind not in transaction_types.TYPES:
        problem("transaction_type", f"{kind!r} is not a transaction type: use " + ", ".join(transaction_types.TYPES))
    elif kind is not None:
        sign = transaction_types.sign_problem(kind, tuple(given for f in AMOUNTS
                                                          if isinstance(given := values.get(f), Decimal)))
        if sign:
            problem("total", sign)
    if values.get(LINES) is not None:
        _check_lines(values, problem)
    amounts_read = not any(field in problems for field in AMOUNTS) and all(values.get(f) is not None for f in AMOUNTS)
    if amounts_read and values["net"] + values["tax"] != values["total"]:
        problem("total", f"net + tax is {values['net'] + values['tax']}, not {values['total']}", UNBALANCED)
    return list(problems.values())


def _decimals(amount: Decimal) -> int:
    """Digits after the point of a finite amount (only NaN and infinity have a letter for an exponent)."""
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def _check_lines(values: ValueMap[str, Any], problem: Callable[..., None]) -> None:
    """The lines' own rules and the totals rule over them: sum(net) + sum(tax) = total."""
    try:
        split = [Line.of(v) for v in values[LINES]]
    except (TypeError, AttributeError, ValueError):
        problem(LINES, "the lines could not be read")
        return
    currency = values.get("currency") or ""
    places = currency_exponent(currency) if currency and is_known_currency(currency) else None
    found = [p for number, line in enumerate(split, start=1) for p in line_problems(number, line, places)]
    if not found:
        found = totals_problems(split, values.get("net"), values.get("tax"), values.get("total"))
    if found:
        problem(LINES, "; ".join(found), UNBALANCED)


def with_line_totals(values: dict[str, Any]) -> dict[str, Any]:
    """Hand-entered lines give the expense's net and tax (and its total when none is given); line 1
    gives its account and tax code (``store.lines.write_lines`` keeps them so)."""
    if values.get(LINES) is None:
        return values
    try:
        split = [Line.of(v) for v in values[LINES]]
        net = sum((line.net for line in split), Decimal(0))
        tax = sum((line.tax for line in split), Decimal(0))
    except (TypeError, AttributeError, ValueError, ArithmeticError):
        return values  # the checks say what is wrong
    if not split:
        return values
    derived = {"net": net, "tax": tax, "account_code": split[0].account_code, "tax_code": split[0].tax_code}
    if values.get("total") is None:
        derived["total"] = net + tax
    return {**values, **derived, LINES: split}


def check_expense(values: ValueMap[str, Any]) -> None:
    problems = expense_problems(values)
    if problems:
        raise InvalidExpense(problems)


def add_expense(db: Engine, bus: EventBus | None, company_id: str, values: dict[str, Any]) -> int:
    """Store a hand-entered expense; ``InvalidExpense`` (nothing stored) when it breaks a rule."""
    values = with_line_totals(values)
    check_expense({k: values.get(k) for k in (*FIELDS, LINES)})
    with session_scope(db) as session:
        ensure_company(session, company_id)
        expense = Expense(company_id=company_id, source_key="manual-" + uuid.uuid4().hex,
                          **{k: values[k] for k in FIELDS if k in values})
        session.add(expense)
        session.flush()
        if values.get(LINES) is not None:
            write_lines(session, expense, values[LINES])
        expense_added(session, expense, Cause.user())
        expense_id = expense.id
    assert expense_id is not None  # flushed above: the database gave it its id
    return expense_id


class EditConflict(Exception):
    """Someone saved this expense after the user opened it: nothing was saved. Carries both versions
    (what the user typed, what is stored now) so the window can show both and lose neither."""

    def __init__(self, expense_id: int, mine: dict[str, Any], theirs: dict[str, Any], their_version: int,
                 their_author: str | None) -> None:
        self.expense_id = expense_id
        self.mine = mine
        self.theirs = theirs
        self.their_version = their_version
        self.their_author = their_author
        who = their_author or "someone else"
        super().__init__(f"{who} changed this expense while you were editing it; nothing was saved. "
                         "Compare the two versions, then save again.")


def update_expense(db: Engine, bus: EventBus | None, expense_id: int, values: dict[str, Any], *,
                   expected_version: int | None = None) -> None:
    """Edit an expense that is not pushed or failed (its history stays; it is not re-pushed by itself).
    The edited expense as a whole must keep the hand-entry rules (``InvalidExpense``, nothing changed).
    ``expected_version``: the version the user saw; a newer stored one raises ``EditConflict``."""
    with session_scope(db) as session:
        # Locked until the commit (PostgreSQL FOR UPDATE): the version compared is the one overwritten.
        expense = session.get(Expense, expense_id, with_for_update=True)
        if expense is None:
            raise NotEditable("this expense no longer exists")
        if expected_version and expense.version != expected_version:
            raise EditConflict(expense_id, dict(values), {k: getattr(expense, k) for k in FIELDS},
                               expense.version, expense.updated_by)
        if ExpenseStatus(expense.status) not in EDITABLE:
            raise NotEditable(f"an expense that is {ExpenseStatus(expense.status).value} cannot be edited")
        apply_edit(session, expense, values, actor=actor_of(db))


def edited_lines(session: Session, expense: Expense, values: dict[str, Any]) -> tuple[dict[str, Any], list[Line] | None]:
    """(the values with their line totals, the lines the edited expense has; None: its own columns),
    after checking the edited expense as a whole (``InvalidExpense``)."""
    values = with_line_totals(values)
    # An edit of a split expense's amounts alone is checked against its stored lines.
    lines = values.get(LINES) if values.get(LINES) is not None else (
        lines_of(session, expense) if expense.line_count else None)
    if values.get(LINES) is None and lines is not None and ({"account_code", "tax_code"} & values.keys()):
        # The expense's account and tax code are line 1's: an edit of them alone is an edit of line 1, or the
        # row would show one account while the push books another.
        first = lines[0]
        if "account_code" in values and values["account_code"] != first.account_code:
            first = dataclasses.replace(first, account_code=values["account_code"], account_id=None)
        if "tax_code" in values and values["tax_code"] != first.tax_code:
            first = dataclasses.replace(first, tax_code=values["tax_code"], tax_rate_id=None)
        lines = [first, *lines[1:]]
        values = {**values, LINES: lines}
    check_expense({k: values[k] if k in values else getattr(expense, k) for k in FIELDS} | {LINES: lines})
    return values, lines


def apply_edit(session: Session, expense: Expense, values: dict[str, Any], *, actor: str | None = None) -> None:
    """Write checked values onto an expense in the caller's transaction (``InvalidExpense``, nothing changed);
    ``actor``: who edited it (``store/actor.py``)."""
    values, _lines = edited_lines(session, expense, values)
    for key in FIELDS:
        if key in values:
            setattr(expense, key, values[key])
    if "account_code" in values:
        expense.account_id = None  # resolved again on the next push
    if "supplier_name" in values:
        expense.supplier_id = None
    if "bank_account_code" in values:
        expense.bank_account_id = None
    if "tax_code" in values:
        expense.tax_rate_id = None
    if values.get(LINES) is not None:
        write_lines(session, expense, values[LINES])
    expense.updated_at = utcnow()
    expense.version = (expense.version or 0) + 1  # an edit, even of the lines alone: a save from before it is refused
    if actor is not None:
        expense.updated_by = actor
    session.add(expense)
    expense_touched(session, expense, Cause.user())


def set_mapping(db: Engine, company_id: str, kind: str, local_value: str, codat_id: str | None) -> None:
    """Map a local value (account code, supplier name, ...) to a Codat record; ``None`` removes the mapping."""
    with session_scope(db) as session:
        existing = session.exec(select(Mapping).where(
            Mapping.company_id == company_id, Mapping.kind == kind, Mapping.local_value == local_value)).first()
        if codat_id is None:
            if existing is not None:
                session.delete(existing)
            return
        if existing is None:
            existing = Mapping(company_id=company_id, kind=kind, local_value=local_value, codat_id=codat_id)
        existing.codat_id = codat_id
        existing.updated_at = utcnow()
        session.add(existing)
