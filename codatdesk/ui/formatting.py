"""Display formats: money in the user's locale (from Decimal, never float), dates and times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QLocale

from codatdesk.money import currency_exponent


def format_money(value: Decimal, currency: str, locale: QLocale | None = None) -> str:
    """``Decimal('-1234.5')`` -> ``-1,234.50`` (en) or ``-1.234,50`` (de), exact to the currency's decimals."""
    locale = locale or QLocale()
    places = currency_exponent(currency) if currency else 2
    exact = -value.as_tuple().exponent if isinstance(value.as_tuple().exponent, int) else 0
    places = max(places, exact)  # never hide precision the data has
    text = format(abs(value), f".{places}f")
    whole, _, fraction = text.partition(".")
    grouped = locale.toString(int(whole))  # QLocale groups digits (qlonglong range covers any ledger)
    out = grouped + (locale.decimalPoint() + fraction if fraction else "")
    if value < 0:
        out = locale.negativeSign() + out
    return out


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def format_timestamp(value: dt.datetime | None, *, seconds: bool = True) -> str:
    """Local time; stored times are UTC (naive ones are taken as UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
