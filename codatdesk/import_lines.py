"""Split lines, tracking and employee claims in an imported file (``codatdesk/importer.py`` reads the cells).

Rows that share a ``reference`` and number their ``line`` (1, 2, 3 ...) are the lines of one expense:
each row is a line with its own account, tax code, net, tax (and its total, net + tax, as every row),
and the expense is their sum. The rows of one expense must agree on what belongs to the expense (date,
supplier, currency, payment account, rate, claim, employee); a row that disagrees is reported with the
line it disagrees with. A row without a line number is an expense of its own, as it always was: two
suppliers' invoices often carry the same number, so a shared reference alone never merges rows.

``tracking`` lists tracking categories (ids or names) separated by ``;``; ``department`` and
``project`` add one each. ``claim`` (yes/no) marks an employee claim; ``employee`` names the employee.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from codatdesk.lines import Line, needs_rows, parse_tracking

if TYPE_CHECKING:  # the importer imports this module
    from codatdesk.importer import ParsedRow

ErrorType = Callable[..., Any]  # the importer's LineError(line, reason, column)

LINE_COLUMN = "line"
TRACKING_COLUMNS = ("tracking", "department", "project")
CLAIM_COLUMNS = ("claim", "employee")
# What the rows of one expense must share, with the words for it.
SHARED = {"date": "date", "supplier": "supplier", "currency": "currency", "bank_account": "bank account",
          "currency_rate": "currency rate", "claim": "claim", "employee": "employee",
          "type": "type"}
_YES = {"yes", "y", "true", "1", "claim", "x"}
_NO = {"", "no", "n", "false", "0"}


def claim_flag(text: str) -> bool | None:
    """A ``claim`` cell as True/False; None when it is neither (the importer reports the row)."""
    word = text.strip().casefold()
    return True if word in _YES else False if word in _NO else None


def row_tracking(values: dict[str, Any]) -> tuple[str, ...]:
    found = list(parse_tracking(values.get("tracking") or ""))
    found.extend(v for v in (values.get("department") or "", values.get("project") or "") if v)
    return tuple(found)


def group_rows(rows: list[ParsedRow], error_type: ErrorType) -> tuple[list[list[ParsedRow]], list[Any]]:
    """The rows grouped into expenses (in file order), and a ``error_type`` (the importer's LineError)
    for each row that disagrees with the first row of its reference."""
    groups: dict[str, list[ParsedRow]] = {}
    order: list[list[ParsedRow]] = []
    errors: list[Any] = []
    numbers: dict[str, set[int]] = {}
    for row in rows:
        reference, number_text = row.values.get("reference") or "", row.values.get("line") or ""
        if not number_text:
            order.append([row])
            continue
        if not number_text.isdigit() or int(number_text) < 1:
            errors.append(error_type(row.line, f"bad line number {number_text!r}: write 1, 2, 3 ... for the lines "
                                               "of one expense", "line"))
            continue
        if not reference:
            errors.append(error_type(row.line, "a line of a split expense needs the expense's reference (the "
                                               "rows sharing it are its lines)", "reference"))
            continue
        if int(number_text) in numbers.setdefault(reference, set()):
            errors.append(error_type(row.line, f"reference {reference} already has a line {number_text}", "line"))
            continue
        numbers[reference].add(int(number_text))
        group = groups.get(reference)
        if group is None:
            groups[reference] = group = []
            order.append(group)
        elif not _agrees(group[0], row, reference, errors, error_type):
            continue
        group.append(row)
    for group in groups.values():
        group.sort(key=lambda r: int(r.values["line"]))
    return order, errors


def _agrees(first: ParsedRow, row: ParsedRow, reference: str, errors: list[Any], error_type: ErrorType) -> bool:
    for column, words in SHARED.items():
        mine, theirs = row.values.get(column), first.values.get(column)
        if (mine or None) != (theirs or None):
            errors.append(error_type(row.line, (
                f"shares reference {reference} with line {first.line}, so it is a line of the same expense, but "
                f"its {words} is {mine or 'empty'} where line {first.line} has {theirs or 'empty'}: the lines of one "
                f"expense share date, "
                f"supplier, currency and payment account; give separate expenses different references"), column))
            return False
    return True


def lines_of_group(group: list[ParsedRow]) -> list[Line]:
    return [Line(account_code=r.values["account_code"], net=r.values["net"], tax=r.values["tax"],
                 tax_code=r.values["tax_code"], description=r.values["description"], tracking=row_tracking(r.values))
            for r in group]


def expense_totals(lines: list[Line]) -> tuple[Decimal, Decimal, Decimal]:
    net = sum((line.net for line in lines), Decimal(0))
    tax = sum((line.tax for line in lines), Decimal(0))
    return net, tax, net + tax


__all__ = ["CLAIM_COLUMNS", "TRACKING_COLUMNS", "claim_flag", "expense_totals", "group_rows", "lines_of_group",
           "needs_rows", "row_tracking"]
