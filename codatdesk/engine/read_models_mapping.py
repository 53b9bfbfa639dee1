"""The Mapping tab's read model: each value the company's expenses use, explained by the push's own
rules (``reference.Resolver.explain``: saved mapping, then code, then name, then Codat id; active
records only), and the Codat records a value may be mapped to."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from codatdesk.core_api import CREATED, MATCHED, NEEDS_YOU, NO_TAX_LABEL, MappingOverview, MappingRow
from codatdesk.engine.reference import NO_TAX, Candidate, Resolver
from codatdesk.store.db import read_session
from codatdesk.store.models import Company, Expense, ReferenceRecord


def _fix_only(problem: str) -> str:
    """The push's reason, said from the Mapping view: "not pushed: <reason>"."""
    return f"not pushed: {problem}"


def mapping_overview(db: Engine, company_id: str) -> MappingOverview:
    """One row per value the company's expenses use, and what is known of Codat's lists."""
    with read_session(db) as session:
        counts: Counter[str] = Counter()
        read_at = None
        for data_type, count, newest in session.exec(
                select(ReferenceRecord.data_type, func.count(), func.max(ReferenceRecord.fetched_at))
                .where(ReferenceRecord.company_id == company_id).group_by(ReferenceRecord.data_type)):
            counts[data_type] = count
            read_at = newest if read_at is None or (newest is not None and newest > read_at) else read_at
        company = session.get(Company, company_id)
        create_suppliers = bool(company and company.create_suppliers)
        resolver = Resolver(session, company_id)
        columns = {"account": Expense.account_code, "bankAccount": Expense.bank_account_code,
                   "supplier": Expense.supplier_name, "taxRate": Expense.tax_code}
        used: dict[str, Counter[str]] = {}
        for kind, column in columns.items():
            used[kind] = Counter({value: count for value, count in session.exec(
                select(column, func.count()).where(Expense.company_id == company_id).group_by(column))
                if value or kind == "taxRate"})
        currencies: dict[str, str] = {}  # payment account -> the currency most of its expenses are in
        for code, currency, _count in session.exec(
                select(Expense.bank_account_code, Expense.currency, func.count()).where(
                    Expense.company_id == company_id).group_by(Expense.bank_account_code, Expense.currency)
                .order_by(func.count())):
            currencies[code] = currency
        # A comprehension, not dict(): a SQLAlchemy result has keys() (column names), so dict() would index it.
        account_names = {code: name for code, name in session.exec(  # noqa: C416
            select(Expense.account_code, Expense.account_name).where(
                Expense.company_id == company_id, Expense.account_name != ""))}
    rows = []
    for kind, counter in used.items():
        for value, count in sorted(counter.items(), key=lambda kv: kv[0].casefold()):
            local_name = account_names.get(value, "") if kind == "account" else ""
            match = resolver.explain(kind, value, currency=currencies.get(value) if kind == "bankAccount" else None,
                                     tax=Decimal(0) if kind == "taxRate" and value == NO_TAX else None,
                                     account_name=local_name)
            how = match.how if match.outcome != "blocked" else _fix_only(match.problem or match.how)
            outcome = {"matched": MATCHED, "created": CREATED}.get(match.outcome, NEEDS_YOU)
            rows.append(MappingRow(kind, value if value else NO_TAX_LABEL, local_name, count, match.codat_id,
                                   match.label, how, outcome,
                                   currencies.get(value, "") if kind == "bankAccount" else ""))
    return MappingOverview(tuple(rows), dict(counts), read_at, create_suppliers)


def mapping_candidates(db: Engine, company_id: str, kind: str, currency: str | None = None) -> list[Candidate]:
    """The active records a value of this kind may be mapped to (what a push may use)."""
    with read_session(db) as session:
        return Resolver(session, company_id).candidates(kind, currency or None)


def supplier_creation_allowed(db: Engine, company_id: str) -> bool:
    with read_session(db) as session:
        company = session.get(Company, company_id)
        return bool(company and company.create_suppliers)
