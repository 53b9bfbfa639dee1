"""Foreign-currency expenses: the company's base currency and the rate each push carries.

Codat's rules encoded here (codatio/codat-docs):

* ``currencyRate`` is in base-currency units for **one unit of the transaction's currency**:
  base amount = amount x currencyRate. With base GBP, USD 20 at 0.781 is GBP 15.62
  (``static/oas/Codat-Sync-Expenses.json``, the ``currencyRate`` description and its
  "Examples with base currency of GBP" table).
* When the transaction's currency differs from the company's base currency, the rate must be
  given in ``currencyRate`` (``docs/expenses/fx-management.md``, "Tips and traps").
* QuickBooks Online books a ``null`` rate as 1 (``static/oas/Codat-Sync-Expenses.json``,
  ``currencyRate`` "Integration-specific details"): EUR 100 would land as GBP 100. So an expense
  in a foreign currency without a rate is never sent.
* In the base currency the rate is left out (``docs/integrations/accounting/sage-intacct/
  sage-intacct-integration-reference.md``: "To write an invoice in the base currency, leave the
  ``currency`` and ``currencyRate`` fields blank"); codatdesk sends ``currency`` and no rate.
* A rate must be greater than 0 (``docs/payables/sync/update-bill.md``, validation table).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codatdesk.amounts import PLAIN, NumberFormat, parse_amount
from codatdesk.money import MoneyError, is_known_currency
from codatdesk.store.db import session_scope
from codatdesk.store.models import Company, CurrencyRate, Expense, utcnow

MISSING_RATE_MARK = " needs a rate ("
RATE_MEANING = ("units of the company's base currency for one unit of the expense's currency "
                "(base amount = amount \u00d7 rate; Codat's currencyRate)")


def parse_rate(text: str, fmt: NumberFormat = PLAIN) -> Decimal:
    """A rate typed or read from a file, in the user's/file's number format; must be > 0."""
    value = parse_amount(text, None, fmt)
    return check_rate(value)


def check_rate(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise MoneyError(f"a currency rate must be greater than 0, not {value}")
    return value


def base_currency(session: Session, company_id: str) -> str | None:
    company = session.get(Company, company_id)
    return company.base_currency if company is not None else None


def store_base_currency(session: Session, company_id: str, info: dict) -> str | None:
    """Keep ``baseCurrency`` from GET /companies/{id}/data/info on the company (in the caller's
    transaction: the reference data's refresh)."""
    from codatdesk.importer import ensure_company

    value = info.get("baseCurrency") if isinstance(info, dict) else None
    value = str(value).strip().upper() if value else None
    company = ensure_company(session, company_id)
    company.base_currency = value if value and is_known_currency(value) else None
    company.base_currency_read_at = utcnow()
    session.add(company)
    return company.base_currency


def base_currency_read(session: Session, company_id: str) -> bool:
    company = session.get(Company, company_id)
    return company is not None and company.base_currency_read_at is not None


def is_missing_rate(reason: str) -> bool:
    """For text already stored on a row (``status_detail``). A ``PushProblem`` says it by its kind
    (``ProblemKind.RATE``): match on that, not on this."""
    return MISSING_RATE_MARK in reason


def table_rate(session: Session, company_id: str, currency: str, on: dt.date) -> CurrencyRate | None:
    """The user's rate for ``currency`` valid on ``on`` (the latest entry from on or before it)."""
    return session.exec(select(CurrencyRate).where(
        CurrencyRate.company_id == company_id, CurrencyRate.currency == currency.upper(),
        CurrencyRate.valid_from <= on).order_by(CurrencyRate.valid_from.desc())).first()


def rate_to_send(session: Session, expense: Expense) -> tuple[Decimal | None, str | None]:
    """(the currencyRate to send, or None; a reason the expense must not be sent, or None).

    Base currency not read yet: the expense's own rate if it has one, else (None, None); the push
    engine reads the base currency with the reference data first. Read but not given by Codat:
    blocked, since nobody can tell whether a rate is needed (QuickBooks Online books a missing one at 1).
    """
    base = base_currency(session, expense.company_id)
    currency = (expense.currency or "").upper()
    if currency and currency == base:
        return None, None
    if expense.currency_rate is not None:
        return expense.currency_rate, None
    if not base:
        if currency and base_currency_read(session, expense.company_id):
            return None, (f"{currency} expense{MISSING_RATE_MARK}or the company's base currency): Codat did not "
                          "say the company's base currency, so codatdesk cannot tell whether a rate is needed. "
                          "Refresh the reference data, or add currency_rate to the row")
        return None, None
    entry = table_rate(session, expense.company_id, currency, expense.expense_date)
    if entry is not None:
        return entry.rate, None
    return None, (f"{currency} expense in a {base} company{MISSING_RATE_MARK}{base} per 1 {currency}) for "
                  f"{expense.expense_date.isoformat()}: add currency_rate to the row (or \u201cRate to base "
                  f"currency\u201d in the expense), or `codatdesk rates set {currency} RATE "
                  f"--from {expense.expense_date.isoformat()}`. Without it QuickBooks Online books it at 1")


def set_rate(db: Engine, company_id: str, currency: str, rate: Decimal, valid_from: dt.date) -> CurrencyRate:
    from codatdesk.importer import ensure_company

    currency = currency.strip().upper()
    if not is_known_currency(currency):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency")
    check_rate(rate)
    with session_scope(db) as session:
        ensure_company(session, company_id)
        entry = session.exec(select(CurrencyRate).where(
            CurrencyRate.company_id == company_id, CurrencyRate.currency == currency,
            CurrencyRate.valid_from == valid_from)).first()
        entry = entry or CurrencyRate(company_id=company_id, currency=currency, rate=rate, valid_from=valid_from)
        entry.rate = rate
        entry.updated_at = utcnow()
        session.add(entry)
        session.flush()
        session.expunge(entry)
        return entry


def list_rates(db: Engine, company_id: str) -> list[CurrencyRate]:
    with Session(db) as session:
        return list(session.exec(select(CurrencyRate).where(CurrencyRate.company_id == company_id)
                                 .order_by(CurrencyRate.currency, CurrencyRate.valid_from)).all())
