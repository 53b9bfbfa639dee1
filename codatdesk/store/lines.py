"""Reading and writing an expense's lines: the one writer of ``expense_line`` and ``Expense.line_count``.

An expense whose single line has no tracking keeps it in its own columns (no rows, ``line_count`` 0):
the table's query never joins, and every expense stored before migration 0007 is already right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete
from sqlmodel import Session, col, select

from codatdesk.lines import Line, needs_rows, tracking_from_json, tracking_json
from codatdesk.store.models import Expense, ExpenseLine


def lines_of(session: Session, expense: Expense) -> list[Line]:
    """The expense's lines in order; its own columns when it has no rows."""
    if not expense.line_count:
        return [Line(account_code=expense.account_code, net=expense.net, tax=expense.tax,
                     tax_code=expense.tax_code, description=expense.description,
                     account_id=expense.account_id, tax_rate_id=expense.tax_rate_id)]
    rows = session.exec(select(ExpenseLine).where(ExpenseLine.expense_id == expense.id)
                        .order_by(col(ExpenseLine.position))).all()
    return [Line(account_code=r.account_code, net=r.net, tax=r.tax, tax_code=r.tax_code,
                 description=r.description, tracking=tracking_from_json(r.tracking_json),
                 account_id=r.account_id, tax_rate_id=r.tax_rate_id) for r in rows]


def lines_by_expense(session: Session, expense_ids: Sequence[int]) -> dict[int, list[Line]]:
    """The stored lines of several expenses in one query (expenses without rows are absent)."""
    found: dict[int, list[Line]] = {}
    if not expense_ids:
        return found
    for r in session.exec(select(ExpenseLine).where(col(ExpenseLine.expense_id).in_(expense_ids))
                          .order_by(col(ExpenseLine.expense_id), col(ExpenseLine.position))):
        found.setdefault(r.expense_id, []).append(
            Line(account_code=r.account_code, net=r.net, tax=r.tax, tax_code=r.tax_code, description=r.description,
                 tracking=tracking_from_json(r.tracking_json), account_id=r.account_id, tax_rate_id=r.tax_rate_id))
    return found


def write_lines(session: Session, expense: Expense, lines: Sequence[Line]) -> None:
    """Store ``lines`` as the expense's lines (the caller checked them: ``codatdesk.lines``). The expense's
    net and tax become their sums and its account and tax code line 1's, so sorting, searching and the
    resolver's checks of line 1 see the same values. The expense must have an id (flushed)."""
    assert expense.id is not None, "write_lines needs a stored (flushed) expense"
    session.execute(delete(ExpenseLine).where(col(ExpenseLine.expense_id) == expense.id))
    first = lines[0]
    expense.net = sum((line.net for line in lines), first.net - first.net)
    expense.tax = sum((line.tax for line in lines), first.tax - first.tax)
    if first.account_code != expense.account_code:
        expense.account_id = None  # resolved again on the next push
    if first.tax_code != expense.tax_code:
        expense.tax_rate_id = None
    expense.account_code, expense.tax_code = first.account_code, first.tax_code
    if not needs_rows(lines):
        expense.description = first.description or expense.description
        expense.line_count = 0
        session.add(expense)
        return
    for position, line in enumerate(lines, start=1):
        session.add(ExpenseLine(expense_id=expense.id, position=position, description=line.description,
                                account_code=line.account_code, tax_code=line.tax_code, net=line.net, tax=line.tax,
                                tracking_json=tracking_json(line.tracking)))
    expense.line_count = len(lines)
    session.add(expense)



@dataclass(frozen=True)
class ExportDetails:
    """What the export writes besides the table's row: the lines (stored ones only) and the claim."""

    lines: tuple[Line, ...]
    is_claim: bool
    employee: str


def export_details(session: Session, expense_ids: Sequence[int]) -> dict[int, ExportDetails]:
    """The export's details of the expenses that have any (lines, a claim); one query each, in chunks."""
    found: dict[int, ExportDetails] = {}
    ids = list(expense_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.exec(select(Expense.id, Expense.line_count, Expense.is_claim, Expense.employee).where(
            col(Expense.id).in_(chunk), (col(Expense.line_count) > 0) | col(Expense.is_claim))).all()
        lines = lines_by_expense(session, [r[0] for r in rows if r[0] is not None and r[1]])
        for expense_id, _count, is_claim, employee in rows:
            if expense_id is not None:
                found[expense_id] = ExportDetails(tuple(lines.get(expense_id, ())), bool(is_claim), employee or "")
    return found


def line_one_tax(session: Session, expense: Expense) -> Decimal | None:
    """A split expense's first line's tax (its tax code is that line's); None for an expense that is its one line."""
    if (expense.line_count or 0) <= 1:
        return None
    first = session.exec(select(ExpenseLine).where(ExpenseLine.expense_id == expense.id)
                         .order_by(col(ExpenseLine.position)).limit(1)).first()
    return None if first is None else first.tax
