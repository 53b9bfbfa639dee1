"""The per-company currency-rate table the user keeps (the window's Currency rates), and what a
change does to the expenses held back for want of a rate.

The rate rules themselves (meaning, > 0, which entry applies on a date) live in
``engine.currency``; this module adds what editing needs: the list with who set each rate,
add/change/delete with validation, and a re-check of the rows a change unblocks or blocks.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.engine import currency as fx
from codatdesk.money import MoneyError, is_known_currency
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import read_session, session_scope
from codatdesk.store.history import Cause, expense_touched
from codatdesk.store.models import CurrencyRate, Expense, utcnow

RATE_SET_NOTE = "A rate for this currency is set now: push again."


@dataclass(frozen=True)
class RateEntry:
    id: int
    currency: str
    rate: Decimal
    valid_from: dt.date
    updated_at: dt.datetime
    updated_by: str | None


@dataclass(frozen=True)
class RateTable:
    base_currency: str | None  # None: Codat's company info not read (or not given) yet
    entries: list[RateEntry]


@dataclass(frozen=True)
class Recheck:
    unblocked: list[int]  # held back for want of a rate, pushable as far as the rate goes now
    blocked: list[int]  # newly held back (a rate they relied on was deleted or moved)


def current_user() -> str:
    try:
        return getpass.getuser()[:100]
    except (OSError, KeyError):  # no user name in the environment: the rate still counts
        return "unknown"


def read_rates(db: Engine, company_id: str) -> RateTable:
    with read_session(db) as session:
        base = fx.base_currency(session, company_id)
        rows = session.exec(select(CurrencyRate).where(CurrencyRate.company_id == company_id)
                            .order_by(CurrencyRate.currency, CurrencyRate.valid_from.desc())).all()
        entries = [RateEntry(r.id, r.currency, r.rate, r.valid_from, r.updated_at, r.updated_by) for r in rows]
    return RateTable(base, entries)


def check_currency(currency: str, base: str | None) -> str:
    code = currency.strip().upper()
    if not is_known_currency(code):
        raise MoneyError(f"{currency.strip() or 'an empty value'} is not a currency code: use three letters "
                         "like EUR or USD")
    if base and code == base:
        raise MoneyError(f"{code} is the company's base currency: its expenses need no rate")
    return code


def save_rate(db: Engine, company_id: str, currency: str, rate: Decimal, valid_from: dt.date, *,
              replacing: int | None = None, by: str | None = None) -> RateEntry:
    """Add a rate, or change entry ``replacing`` (its currency and date may change too), in one transaction."""
    from codatdesk.importer import ensure_company

    fx.check_rate(rate)
    with session_scope(db) as session:
        code = check_currency(currency, fx.base_currency(session, company_id))
        ensure_company(session, company_id)
        same_day = session.exec(select(CurrencyRate).where(
            CurrencyRate.company_id == company_id, CurrencyRate.currency == code,
            CurrencyRate.valid_from == valid_from)).first()
        entry = session.get(CurrencyRate, replacing) if replacing is not None else None
        if replacing is not None and (entry is None or entry.company_id != company_id):
            raise MoneyError("that rate was deleted meanwhile: add it again")
        if same_day is not None and entry is not None and same_day.id != entry.id:
            raise MoneyError(f"there is already a rate for {code} from {valid_from.isoformat()}: change that one")
        entry = entry or same_day or CurrencyRate(company_id=company_id, currency=code, rate=rate,
                                                  valid_from=valid_from)
        entry.currency, entry.rate, entry.valid_from = code, rate, valid_from
        entry.updated_at, entry.updated_by = utcnow(), by or current_user()
        session.add(entry)
        session.flush()
        return RateEntry(entry.id, entry.currency, entry.rate, entry.valid_from, entry.updated_at, entry.updated_by)


def delete_rate(db: Engine, company_id: str, rate_id: int) -> None:
    with session_scope(db) as session:
        entry = session.get(CurrencyRate, rate_id)
        if entry is not None and entry.company_id == company_id:
            session.delete(entry)


def recheck_missing_rates(db: Engine, pusher: Any, company_id: str) -> Recheck:
    """After the table changed: rows it unblocked lose their "needs a rate" note (other reasons the
    push engine finds stay on them), rows it blocked get one. ``pusher``: the core's PushEngine."""
    from codatdesk.engine.pusher import ProblemKind, PushProblem

    with Session(db) as session:
        base = fx.base_currency(session, company_id)
        rows = session.exec(select(Expense).where(
            Expense.company_id == company_id,
            Expense.status.in_([s.value for s in ExpenseStatus if s.can_push]))).all()
        unblocked, missing = [], []
        for expense in rows:
            if not expense.currency or expense.currency.upper() == base:
                continue
            _rate, reason = fx.rate_to_send(session, expense)
            if reason is None and fx.is_missing_rate(expense.status_detail or ""):
                unblocked.append(expense.id)
            elif reason is not None and reason not in (expense.status_detail or ""):
                missing.append(PushProblem(expense.id, reason, ProblemKind.RATE))
    changed: list[int] = []
    if unblocked:
        with session_scope(db) as session:
            for expense_id in unblocked:
                expense = session.get(Expense, expense_id)
                if expense is None or not fx.is_missing_rate(expense.status_detail or ""):
                    continue
                not_pushed = ExpenseStatus(expense.status) is ExpenseStatus.NOT_PUSHED
                expense.status_detail = "" if not_pushed else RATE_SET_NOTE
                session.add(expense)
                expense_touched(session, expense, Cause.user("rate table"))
                changed.append(expense_id)
        # A row may be held back for more than its rate (a supplier, a tax code): those reasons come back.
        pusher.note_problems(pusher.check(unblocked))
    if missing:
        pusher.note_problems(missing)
    return Recheck(changed, [p.expense_id for p in missing])
