"""An expense's lines: each with its own account, tax code, net, tax and tracking categories.

An expense has one line (its own columns) or several (``expense_line`` rows, see
``store/lines.py``). The rules here are the same for the window, scripts and the importer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Line:
    account_code: str
    net: Decimal
    tax: Decimal
    tax_code: str = ""
    description: str = ""
    tracking: tuple[str, ...] = ()  # Codat tracking category ids or names, as the user gave them
    account_id: str | None = field(default=None, compare=False)  # Codat ids once known
    tax_rate_id: str | None = field(default=None, compare=False)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax

    @classmethod
    def of(cls, value: Line | dict[str, Any]) -> Line:
        if isinstance(value, Line):
            return value
        tracking = value.get("tracking") or ()
        return cls(account_code=str(value.get("account_code") or ""), net=value.get("net"),  # type: ignore[arg-type]
                   tax=value.get("tax", Decimal(0)), tax_code=str(value.get("tax_code") or ""),
                   description=str(value.get("description") or ""),
                   tracking=parse_tracking(tracking) if isinstance(tracking, str) else tuple(tracking))


def parse_tracking(text: str) -> tuple[str, ...]:
    """"DEPARTMENT_2; PROJECT_1" -> ("DEPARTMENT_2", "PROJECT_1"): ";" or "|" separate (a name may hold a comma)."""
    return tuple(p.strip() for p in text.replace("|", ";").split(";") if p.strip())


def tracking_text(tracking: Iterable[str]) -> str:
    return "; ".join(tracking)


def tracking_json(tracking: Iterable[str]) -> str:
    return json.dumps(list(tracking))


def tracking_from_json(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def needs_rows(lines: Sequence[Line]) -> bool:
    """Whether the expense's own columns can hold its lines (one line, no tracking) or rows must."""
    return len(lines) > 1 or any(line.tracking for line in lines)


def totals_problems(lines: Sequence[Line], net: Decimal | None, tax: Decimal | None,
                    total: Decimal | None) -> list[str]:
    """The totals rule over the lines, in plain words: the lines add up to the expense's net, tax and
    total (each line's own total is its net plus its tax)."""
    if not lines:
        return ["an expense needs at least one line"]
    problems = []
    line_net = sum((line.net for line in lines), Decimal(0))
    line_tax = sum((line.tax for line in lines), Decimal(0))
    if net is not None and line_net != net:
        problems.append(f"the lines' net adds up to {line_net}, not the expense's net {net}")
    if tax is not None and line_tax != tax:
        problems.append(f"the lines' tax adds up to {line_tax}, not the expense's tax {tax}")
    if total is not None and line_net + line_tax != total:
        problems.append(f"the lines add up to {line_net + line_tax} (net {line_net} + tax {line_tax}), "
                        f"not the expense's total {total}")
    return problems


def line_problems(number: int, line: Line, currency_places: int | None) -> list[str]:
    """What is wrong with one line (``number`` counts from 1), each naming the line."""
    problems = []
    if not line.account_code.strip():
        problems.append(f"line {number}: the account code is missing")
    for name, amount in (("net", line.net), ("tax", line.tax)):
        if not isinstance(amount, Decimal) or not amount.is_finite():
            problems.append(f"line {number}: the {name} must be an exact amount")
        elif currency_places is not None and -amount.as_tuple().exponent > currency_places:  # type: ignore[operator]
            problems.append(f"line {number}: {amount} has more decimals than the currency has ({currency_places})")
    return problems
