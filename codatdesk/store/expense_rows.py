"""The expenses table's read model: one row per expense, as the database returns it.

The store owns the encoding (ISO date text, money as scaled integers, status text), so
it owns the decoding too: a view gets named, typed fields and never indexes a tuple.
SQLAlchemy is imported at the first read, not when the window's modules load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from codatdesk.states import ExpenseStatus
from codatdesk.store.scaled_money import from_scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_IN_CHUNK = 500  # SQLite's bound-parameter limit is far above; keeps statements small
_STATUSES = {status.value: status for status in ExpenseStatus}  # a dict hit, not Enum's slow __call__

# Positions in the raw tuple; only this module knows them (they follow _row_select).
_ID, _COMPANY, _DATE, _SUPPLIER, _DESCRIPTION, _ACCOUNT_CODE, _ACCOUNT_NAME = range(7)
_NET, _TAX, _TOTAL, _CURRENCY, _STATUS, _DETAIL, _REFERENCE, _UPDATED, _BANK, _TAX_CODE = range(7, 17)
_RECEIPTS = 17  # the upload states of the expense's receipts, comma-joined (None: no receipt)
_LINES = 18  # Expense.line_count


def _as_utc(value: str | dt.datetime | None) -> dt.datetime | None:
    """As the column's type returns it: aware, in UTC (SQLite keeps UTC text without an offset)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.utcoffset() is None else value.astimezone(dt.UTC)


class ExpenseRow(tuple):
    """What the table shows of one expense.

    A tuple of the raw column values, so building 100,000 rows is one C call each and
    comparing two (did the row change?) is tuple equality. Dates, amounts and the status
    are decoded when read, which only the rows on screen, a sort, a search or an export do.
    """

    __slots__ = ()

    id: int = property(itemgetter(_ID))  # type: ignore[assignment]  # a tuple field, read as an attribute
    company_id: str = property(itemgetter(_COMPANY))  # type: ignore[assignment]  # as above
    supplier: str = property(itemgetter(_SUPPLIER))  # type: ignore[assignment]  # as above
    description: str = property(itemgetter(_DESCRIPTION))  # type: ignore[assignment]  # as above
    account_code: str = property(itemgetter(_ACCOUNT_CODE))  # type: ignore[assignment]  # as above
    account_name: str = property(itemgetter(_ACCOUNT_NAME))  # type: ignore[assignment]  # as above
    currency: str = property(itemgetter(_CURRENCY))  # type: ignore[assignment]  # as above
    status_detail: str = property(itemgetter(_DETAIL))  # type: ignore[assignment]  # as above
    reference: str = property(itemgetter(_REFERENCE))  # type: ignore[assignment]  # as above
    bank_account: str = property(itemgetter(_BANK))  # type: ignore[assignment]  # as above
    tax_code: str = property(itemgetter(_TAX_CODE))  # type: ignore[assignment]  # as above

    @property
    def date(self) -> dt.date:
        value = self[_DATE]
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)

    @property
    def net(self) -> Decimal:
        return from_scaled(self[_NET])

    @property
    def tax(self) -> Decimal:
        return from_scaled(self[_TAX])

    @property
    def total(self) -> Decimal:
        return from_scaled(self[_TOTAL])

    @property
    def status(self) -> ExpenseStatus:
        return _STATUSES[self[_STATUS]]

    @property
    def updated_at(self) -> dt.datetime | None:
        return _as_utc(self[_UPDATED])

    @property
    def line_count(self) -> int:
        """How many lines a split expense has; 0 or 1: one line (``Expense.line_count``)."""
        return self[_LINES] if len(self) > _LINES else 0

    @property
    def account(self) -> str:
        if self.line_count > 1:  # each line has its own account: the details pane lists them
            return f"{self.line_count} lines"
        return f"{self.account_code} · {self.account_name}" if self.account_name else self.account_code

    @property
    def receipt_note(self) -> str:
        """Receipts not (yet) in the ledger, in two words: a row in the ledger whose receipt is not is
        visibly unfinished. Receipts that are fine, or wait for the push, say nothing here (the details do)."""
        states = self[_RECEIPTS].split(",") if self[_RECEIPTS] else []
        if "failed" in states or "refused" in states:
            return "receipt failed"
        if "uploading" in states or ("pending" in states and self.status is ExpenseStatus.COMPLETE):
            return "receipt uploading"
        return ""

    @property
    def status_text(self) -> str:
        note = self.receipt_note
        return f"{self[_STATUS]} · {note}" if note else self[_STATUS]

    def search_text(self) -> str:
        return " ".join((
            str(self.id), str(self[_DATE]), self.supplier, self.description, self.account_code,
            self.account_name, format(self.net, "f"), format(self.tax, "f"), format(self.total, "f"),
            self.currency, self.status_text, self.reference, self.status_detail,
        )).casefold()

    def __repr__(self) -> str:
        return f"ExpenseRow(id={self.id}, {self.date}, {self.supplier!r}, {self.total} {self.currency}, {self.status})"


# ISO date text and scaled integers order like the dates and Decimals they hold, so
# sorting 100,000 rows by these fields needs no decoding.
_STORED_ORDER = {"date": itemgetter(_DATE, _ID), "net": itemgetter(_NET, _ID),
                 "tax": itemgetter(_TAX, _ID), "total": itemgetter(_TOTAL, _ID)}


def stored_order_key(field: str) -> Callable[[ExpenseRow], Any] | None:
    """A sort key (the field, then the id) on the stored value, or None if it does not sort as decoded."""
    return _STORED_ORDER.get(field)


@cache
def _row_select() -> tuple[Any, Any]:
    """(a Core select of ExpenseRow's columns in its order, the expense table's columns).

    The coerced columns skip SQLAlchemy's per-value result processing: ExpenseRow decodes.
    """
    from sqlalchemy import BigInteger, String, func, select, type_coerce

    from codatdesk.store.models import Expense, Receipt

    c = Expense.__table__.c  # type: ignore[attr-defined]  # SQLModel does not declare __table__
    r = Receipt.__table__.c  # type: ignore[attr-defined]  # as above
    receipts = select(func.aggregate_strings(r.upload_status, ",")).where(r.expense_id == c.id).scalar_subquery()
    return select(c.id, c.company_id, type_coerce(c.expense_date, String), c.supplier_name, c.description,
                  c.account_code, c.account_name, type_coerce(c.net, BigInteger), type_coerce(c.tax, BigInteger),
                  type_coerce(c.total, BigInteger), c.currency, type_coerce(c.status, String), c.status_detail,
                  c.reference, type_coerce(c.updated_at, String), c.bank_account_code, c.tax_code, receipts,
                  c.line_count), c


def fetch_company(engine: Engine, company_id: str | None) -> list[ExpenseRow]:
    """Every expense of ``company_id`` (None: all companies), newest date first, then newest id."""
    rows, c = _row_select()
    query = rows.order_by(c.expense_date.desc(), c.id.desc())
    if company_id is not None:
        query = query.where(c.company_id == company_id)
    with engine.connect() as connection:  # a deferred read, rolled back on return to the pool
        return list(map(ExpenseRow, connection.execute(query).all()))


def fetch_ids(engine: Engine, ids: Sequence[int]) -> dict[int, ExpenseRow]:
    """The rows of these expenses that still exist, by id."""
    found: dict[int, ExpenseRow] = {}
    rows, c = _row_select()
    with engine.connect() as connection:
        for start in range(0, len(ids), _IN_CHUNK):
            query = rows.where(c.id.in_(ids[start:start + _IN_CHUNK]))
            for row in map(ExpenseRow, connection.execute(query).all()):
                found[row.id] = row
    return found


def totals_by_currency(rows: Iterable[ExpenseRow]) -> dict[str, Decimal]:
    """Sum of the rows' totals per currency, currencies in alphabetical order. Exact: added in the integer
    units they are stored in, and made Decimal once per currency (a Decimal a row cost the totals line's
    recount of 10,000 rows, after every change, 50 ms of the GUI thread under load: B7)."""
    rows = rows if isinstance(rows, Sequence) else list(rows)
    currencies = set(map(_currency_of, rows))
    units: dict[str, int] = {}
    if len(currencies) == 1:  # the usual table: one sum in C, no Python step per row for the GUI thread to pay
        units[currencies.pop()] = sum(map(_total_of, rows))
    else:
        for row in rows:
            units[row[_CURRENCY]] = units.get(row[_CURRENCY], 0) + row[_TOTAL]
    return {currency: from_scaled(total) for currency, total in sorted(units.items())}


_currency_of, _total_of = itemgetter(_CURRENCY), itemgetter(_TOTAL)
