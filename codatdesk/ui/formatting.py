"""Display formats: money in the user's locale (from Decimal, never float), dates and times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QLocale

from codatdesk.amounts import PLAIN, NumberFormat, format_amount, number_format


def format_money(value: Decimal, currency: str, locale: QLocale | None = None) -> str:
    """``Decimal('-1234.5')`` -> ``-1,234.50`` (en) or ``-1.234,50`` (de), exact to the currency's decimals.

    The same writer as the CLI's and the one the expense dialog reads back (:mod:`codatdesk.amounts`).
    """
    return format_amount(value, currency or None, locale_number_format((locale or QLocale()).name()))


def locale_number_format(name: str) -> NumberFormat:
    """The number format of a QLocale name (``de_DE``); plain ``1234.56`` where Babel has none."""
    try:
        return number_format(name)
    except ValueError:
        return PLAIN


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def format_timestamp(value: dt.datetime | None, *, seconds: bool = True) -> str:
    """Local time; stored times are UTC (naive ones are taken as UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
