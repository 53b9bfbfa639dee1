"""Codat's create models: what each ledger accepts, read per connection and checked before sending.

Codat serves, per connection and data type, a ``PushOption`` tree: which properties are
required, their allowed values (``options``) and rules written as text in
``validation.warnings/information[].details`` (codat-docs ``docs/using-the-api/push.md``, "Get
model": Xero's ``nominalCode`` "Max length of 10 characters."). Integrations differ, so the
models are cached per connection (table ``create_model``) and read again on demand, when the
company's connection changes, and when older than a day (sandbox choice: models are "static data
in most cases", push.md). An expense whose body breaks its model is not sent: each problem is a
:class:`ModelProblem`, a sentence with the reason and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.codat import CodatClient
from codatdesk.codat.errors import CodatNotFound
from codatdesk.store.db import session_scope
from codatdesk.store.models import Connection, CreateModel, utcnow

log = logging.getLogger(__name__)

MODEL_DATA_TYPES = ("directCosts", "chartOfAccounts", "suppliers")
MAX_AGE = dt.timedelta(days=1)
# Preferred categories for a new expense account, best first: an expense or overhead account, never
# cost of sales (Expense.DirectCosts) unless the user maps one (issue #12).
EXPENSE_CATEGORIES = ("Expense.Overhead", "Expense.Expense")
# Where a ledger's categories go a level deeper (QuickBooks Online: ``Expense.Expense.Travel``, oas QBO
# chartOfAccounts model), the general-expense leaf, best first: never a specific one (an account
# named "Consulting" is not Travel) and never cost of goods sold.
GENERAL_EXPENSE_LEAVES = ("OtherBusinessExpenses", "OfficeGeneralAdministrativeExpenses")


class ModelProblem(str):
    """A reason found against a create model (a ``str``, so it travels wherever reasons do)."""


# -- the model ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One property of a PushOption tree, with what its text rules say."""

    name: str
    display: str
    kind: str  # Object | Array | String | Number | ...
    required: bool
    min_length: int | None = None
    max_length: int | None = None
    allowed: tuple[str, ...] = ()
    properties: dict[str, Rule] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # the validation texts themselves (what the integration says it does)

    @classmethod
    def parse(cls, name: str, option: Any) -> Rule:
        option = option if isinstance(option, dict) else {}
        low = high = None
        notes: list[str] = []
        validation = option.get("validation") or {}
        for group in ("warnings", "information"):
            for item in validation.get(group) or [] if isinstance(validation, dict) else []:
                notes.append(str(item.get("details") or "") if isinstance(item, dict) else "")
                bounds = parse_length(notes[-1])
                if bounds:
                    low = bounds[0] if bounds[0] is not None else low
                    high = bounds[1] if bounds[1] is not None else high
        allowed = tuple(str(o.get("value")) for o in option.get("options") or []
                        if isinstance(o, dict) and o.get("value") is not None)
        children = option.get("properties") or {}
        return cls(name, str(option.get("displayName") or name), str(option.get("type") or ""),
                   bool(option.get("required")), low, high, allowed,
                   {k: cls.parse(k, v) for k, v in children.items()} if isinstance(children, dict) else {},
                   tuple(n for n in notes if n))


# "Max length of 10 characters.", "Must not exceed 255 characters.", "Maximum 4000 characters",
# "up to 21 characters", "50 characters or fewer", "Length must be between 1 and 30 characters".
_BETWEEN = re.compile(r"between\s+(\d+)\s+and\s+(\d+)\s*char", re.IGNORECASE)
_MAX_BEFORE = re.compile(
    r"(?:max(?:imum)?(?:\s+length)?(?:\s+(?:of|is))?|(?:must\s+)?not\s+(?:exceed|be\s+(?:longer|more)\s+than)|"
    r"cannot\s+exceed|can't\s+exceed|no\s+(?:more|longer)\s+than|up\s+to|at\s+most|limited\s+to|"
    r"less\s+than\s+or\s+equal\s+to)\s*:?\s*(\d+)\s*(?:char|chr)", re.IGNORECASE)
_MAX_AFTER = re.compile(r"(\d+)\s*char(?:acter)?s?\s+(?:or\s+(?:fewer|less)|max(?:imum)?)", re.IGNORECASE)
_MIN = re.compile(r"(?:min(?:imum)?(?:\s+length)?(?:\s+(?:of|is))?|at\s+least)\s*:?\s*(\d+)\s*char", re.IGNORECASE)
_EXACT = re.compile(r"(?:exactly|must\s+be)\s+(\d+)\s*char", re.IGNORECASE)


def parse_length(details: str) -> tuple[int | None, int | None] | None:
    """(min, max) characters a rule's text allows, or None when it says nothing about length.
    Lenient: Codat writes these by hand, differently per integration."""
    if m := _BETWEEN.search(details):
        return int(m.group(1)), int(m.group(2))
    if (m := _EXACT.search(details)) and not _MAX_AFTER.search(details):
        return int(m.group(1)), int(m.group(1))
    high = next((int(m.group(1)) for m in (_MAX_BEFORE.search(details), _MAX_AFTER.search(details)) if m), None)
    low = int(m.group(1)) if (m := _MIN.search(details)) else None
    return None if low is None and high is None else (low, high)


# -- cache ----------------------------------------------------------------------------------------

def refresh(db: Engine, client: CodatClient, company_id: str, connection_id: str) -> dict[str, str]:
    """Read every create model of the connection (HTTP first, then one short transaction).
    Returns, per data type, what was read: "read" or "not supported"."""
    read: dict[str, dict | None] = {}
    for data_type in MODEL_DATA_TYPES:
        try:
            read[data_type] = client.push_options(company_id, connection_id, data_type)
        except CodatNotFound:  # the integration cannot create this data type
            read[data_type] = None
    with session_scope(db) as session:
        session.exec(delete(CreateModel).where(  # type: ignore[call-overload]
            CreateModel.company_id == company_id, CreateModel.connection_id == connection_id))
        for data_type, model in read.items():
            session.add(CreateModel(company_id=company_id, connection_id=connection_id, data_type=data_type,
                                    model_json=None if model is None else json.dumps(model)))
    return {data_type: "read" if model is not None else "not supported" for data_type, model in read.items()}


def is_fresh(session: Session, company_id: str, connection_id: str | None, now: dt.datetime | None = None) -> bool:
    """The connection's models are cached and younger than a day (a new connection has none)."""
    if not connection_id:
        return True  # nothing to read for: the connection check blocks instead
    rows = session.exec(select(CreateModel).where(CreateModel.company_id == company_id,
                                                  CreateModel.connection_id == connection_id)).all()
    if {r.data_type for r in rows} < set(MODEL_DATA_TYPES):
        return False
    oldest = min(_aware(r.fetched_at) for r in rows)
    return (now or utcnow()) - oldest < MAX_AGE


@dataclass(frozen=True)
class Models:
    """The create models of one connection, as loaded for a batch; ``ledger``: the platform's name."""

    ledger: str
    by_type: dict[str, Rule | None]  # absent key: not read; None: not supported

    @classmethod
    def load(cls, session: Session, company_id: str, connection_id: str | None) -> Models:
        by_type: dict[str, Rule | None] = {}
        ledger = "the ledger"
        if connection_id:
            conn = session.get(Connection, connection_id)
            ledger = (conn.platform_name if conn and conn.platform_name else None) or ledger
            for row in session.exec(select(CreateModel).where(CreateModel.company_id == company_id,
                                                              CreateModel.connection_id == connection_id)):
                by_type[row.data_type] = None if row.model_json is None else Rule.parse(
                    row.data_type, _loads(row.model_json))
        return cls(ledger, by_type)

    def direct_cost_problems(self, body: dict) -> list[ModelProblem]:
        rule = self.by_type.get("directCosts")
        if rule is None:
            return []
        problems = check(body, rule, self.ledger, _DIRECT_COST_FIELDS)
        if _is_negative(body) and not takes_negative(rule):
            problems.append(ModelProblem(
                f"the expense is a refund (a negative total); {self.ledger}'s direct cost model says nothing "
                f"about negative amounts, so codatdesk does not send it (the ledger may refuse it or book it as "
                f"a cost): record the refund in {self.ledger} itself, e.g. as a supplier credit"))
        return problems


def takes_negative(rule: Rule) -> bool:
    """Whether the direct cost model says how a negative one is written: Xero's says "When negative, the
    push item will be converted to a DirectIncome" (oas Xero directCosts model; codat-docs
    ``docs/integrations/accounting/xero/xero-faq.md``). Codat documents no other integration's
    handling, so a refund goes only where the model states it; elsewhere it is held back, never guessed."""
    return any("negative" in note.lower() for note in rule.notes)


def _is_negative(body: dict) -> bool:
    total = body.get("totalAmount")
    return isinstance(total, Decimal | int) and not isinstance(total, bool) and total < 0


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _loads(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- checking a body -------------------------------------------------------------------------------

# What each body field is in the accountant's words, and how to mend it. Unlisted fields are not
# filled from the expense: the fix is outside the expense.
_DIRECT_COST_FIELDS = {
    "reference": ("the reference", "shorten it (edit the expense)"),
    "note": ("the description", "shorten it (edit the expense)"),
    "lineItems.description": ("the description", "shorten it (edit the expense)"),
    "currency": ("the currency", "edit the expense"),
    "contactRef": ("the supplier", "map the supplier in Mappings"),
    "contactRef.id": ("the supplier", "map the supplier in Mappings"),
}
_ACCOUNT_FIELDS = {
    "nominalCode": ("the account code",
                    "use a shorter account code, or map the code to an existing account in Mappings"),
    "name": ("the account name", "shorten the account name (edit the expense)"),
}


def check(body: dict, rule: Rule, ledger: str, words: dict[str, tuple[str, str]],
          path: str = "") -> list[ModelProblem]:
    """Each way ``body`` breaks ``rule``'s properties: a required one missing, a text too long or
    too short, a value outside the allowed ones."""
    problems: list[ModelProblem] = []
    for name, prop in rule.properties.items():
        where = f"{path}{name}"
        value = body.get(name) if isinstance(body, dict) else None
        label, fix = words.get(where, (f"{prop.display} ({where})", ""))
        if value in (None, "", [], {}):
            if prop.required:
                problems.append(ModelProblem(
                    f"{ledger} requires {label}, and this expense has none: " + (
                        fix if where in words else "codatdesk cannot send it yet; enter this one in the ledger "
                                                   "yourself")))
            continue
        if prop.kind == "Array" and isinstance(value, list):
            for item in value:
                problems.extend(p for p in check(item, prop, ledger, words, f"{where}.") if p not in problems)
        elif isinstance(value, dict):
            problems.extend(check(value, prop, ledger, words, f"{where}."))
        elif isinstance(value, str):
            problems.extend(_text_problems(value, prop, ledger, label, fix))
    return problems


def _text_problems(value: str, prop: Rule, ledger: str, label: str, fix: str) -> list[ModelProblem]:
    fix = f": {fix}" if fix else ""
    if prop.max_length is not None and len(value) > prop.max_length:
        return [ModelProblem(f"{label} is {len(value)} characters long; {ledger} takes at most "
                             f"{prop.max_length}{fix}")]
    if prop.min_length is not None and len(value) < prop.min_length:
        return [ModelProblem(f"{label} is {len(value)} characters long; {ledger} needs at least "
                             f"{prop.min_length}{fix}")]
    if prop.allowed and value not in prop.allowed:
        return [ModelProblem(f"{label} {value!r} is not one {ledger} allows ({', '.join(prop.allowed[:8])}"
                             f"{'…' if len(prop.allowed) > 8 else ''}){fix}")]
    return []


# -- a new account's body --------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountPlan:
    body: dict | None
    problems: tuple[ModelProblem, ...] = ()


def account_body(models: Models, code: str, name: str, currency: str) -> AccountPlan:
    """The chartOfAccounts body for a new expense account, built from the connection's model: only
    the properties the model knows, the category from its allowed values (an expense/overhead one,
    never cost of sales), lengths checked before anything is sent."""
    if "chartOfAccounts" not in models.by_type:
        return AccountPlan(None, (ModelProblem(
            f"account {code} must be created, but {models.ledger}'s account model is not read yet: "
            "refresh (codatdesk refresh), then push again"),))
    rule = models.by_type["chartOfAccounts"]
    if rule is None:
        return AccountPlan(None, (ModelProblem(
            f"account {code} is not in {models.ledger}, and Codat cannot create accounts there: create it "
            "in the ledger, refresh, then push again"),))
    wanted: dict[str, Any] = {"nominalCode": code, "name": name, "type": "Expense", "status": "Active",
                              "currency": currency, "isBankAccount": False}
    category_rule = rule.properties.get("fullyQualifiedCategory")
    if category_rule is not None:
        allowed = category_rule.allowed
        category = next((c for c in EXPENSE_CATEGORIES if not allowed or c in allowed), None) or next(
            (c for leaf in GENERAL_EXPENSE_LEAVES for c in allowed
             if c.startswith("Expense.Expense.") and c.rsplit(".", 1)[-1] == leaf), None)
        if category is None:
            return AccountPlan(None, (ModelProblem(
                f"account {code} is not in {models.ledger}, and none of its account categories is an expense "
                f"or overhead one: create the account in the ledger (or map {code} to an existing account "
                "in Mappings), then push again"),))
        wanted["fullyQualifiedCategory"] = category
    body = {k: v for k, v in wanted.items() if k in rule.properties}
    problems = tuple(ModelProblem(f"account {code} cannot be created: {p}")
                     for p in check(body, rule, models.ledger, _ACCOUNT_FIELDS))
    return AccountPlan(None if problems else body, problems)


# -- what was read, in words (``codatdesk refresh``) ------------------------------------------------

def describe(models: Models) -> list[str]:
    """One line per data type: what the ledger requires, its length limits and its value lists."""
    lines = []
    for data_type in MODEL_DATA_TYPES:
        if data_type not in models.by_type:
            lines.append(f"{data_type}: create model not read")
            continue
        rule = models.by_type[data_type]
        if rule is None:
            lines.append(f"{data_type}: {models.ledger} cannot create these through Codat")
            continue
        flat = list(_flatten(rule))
        required = [path for path, r in flat if r.required]
        limits = [f"{path} \u2264 {r.max_length}" for path, r in flat if r.max_length is not None]
        choices = [f"{path} ({len(r.allowed)})" for path, r in flat if r.allowed]
        text = f"{data_type}: {len(required)} required field(s)"
        if limits:
            text += "; at most: " + ", ".join(limits)
        if choices:
            text += "; allowed values: " + ", ".join(choices)
        lines.append(text)
    return lines


def _flatten(rule: Rule, prefix: str = "") -> Iterator[tuple[str, Rule]]:
    for name, prop in rule.properties.items():
        yield f"{prefix}{name}", prop
        yield from _flatten(prop, f"{prefix}{name}.")


# -- a new supplier's body -------------------------------------------------------------------------

_SUPPLIER_FIELDS = {
    "supplierName": ("the supplier's name",
                     "shorten it (edit the expense), or map it to an existing supplier in Mappings"),
}


def supplier_body(models: Models, name: str) -> AccountPlan:
    """The suppliers body for a supplier the ledger lacks: its name (and status Active when the model
    knows it), checked against the connection's supplier model before anything is sent."""
    if "suppliers" not in models.by_type:
        return AccountPlan(None, (ModelProblem(
            f"supplier {name} must be created, but {models.ledger}'s supplier model is not read yet: refresh "
            "(codatdesk refresh), then push again"),))
    rule = models.by_type["suppliers"]
    if rule is None:
        return AccountPlan(None, (ModelProblem(
            f"supplier {name} is not in {models.ledger}, and Codat cannot create suppliers there: create it in "
            "the ledger (or map it in Mappings), refresh, then push again"),))
    wanted = {"supplierName": name, "status": "Active"}
    body = {k: v for k, v in wanted.items() if k in rule.properties}
    problems = tuple(ModelProblem(f"supplier {name} cannot be created: {p}")
                     for p in check(body, rule, models.ledger, _SUPPLIER_FIELDS))
    return AccountPlan(None if problems else body, problems)
