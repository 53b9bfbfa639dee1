"""Column types that keep money exact on every database."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.types import BigInteger, String, TypeDecorator

from codatdesk.store.scaled_money import MONEY_SCALE, from_scaled, to_scaled

__all__ = ["MONEY_SCALE", "Money", "Rate"]


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as a scaled integer.

    SQLite has no decimal type (NUMERIC becomes a float), so amounts are kept as
    integers of 1/10,000 unit; PostgreSQL gets the same BIGINT and sorts correctly.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:
        if value is None:
            return None
        return to_scaled(value)

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        if value is None:
            return None
        return from_scaled(value)


class Rate(TypeDecorator[Decimal]):
    """A currency rate, kept exactly as its decimal text (Codat gives rates to up to 9 decimals,
    more than :class:`Money` holds). Never a float."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> str | None:
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"rate {value} is not a number")
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
