"""Creating a supplier the ledger lacks, as a dependent push: the supplier first, then the expense.

Allowed per company (``Company.create_suppliers``, off by default: an unknown supplier blocks with
"map it, or allow codatdesk to create suppliers"). Like the account chain in ``pusher``: one
supplier push for every expense that names it (``prerequisites.create_then_wait``), the expenses wait (WAITING, ``waiting_on_key``)
and the applier releases them with the new supplier's id (``_apply_to_dependents``), which is
also remembered as the name's mapping. Xero's spend money needs a contact (codat-docs
``docs/integrations/accounting/xero/use-cases/general-lending.md``), so no expense leaves without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session

from codatdesk import jsonmoney
from codatdesk.codat import CodatError, PushOutcomeUnknown
from codatdesk.codat.client import new_idempotency_key
from codatdesk.engine import create_models, prerequisites
from codatdesk.engine.created_lookup import with_record_id
from codatdesk.engine.lost_answers import finish_attempt
from codatdesk.engine.results import OperationResult
from codatdesk.importer import ensure_company
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause
from codatdesk.store.models import Company, PushAttempt, PushOperation, utcnow

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushBatch, PushEngine

def set_supplier_creation(db: Engine, company_id: str, allowed: bool) -> None:
    """The company's choice: may codatdesk create suppliers the ledger lacks?"""
    with session_scope(db) as session:
        ensure_company(session, company_id)
        company = session.get(Company, company_id)
        company.create_suppliers = allowed
        session.add(company)


def create_then_wait(engine: PushEngine, batch: PushBatch, company_id: str, connection_id: str, name: str,
                     dependents: list[int], cause: Cause) -> None:
    """One supplier push for every expense naming ``name``; they wait for it (or reuse a pending or
    successful push of the same name)."""

    def use_existing(supplier_id: str, waiting: list[int]) -> None:
        with session_scope(engine.db) as session:
            for expense_id in waiting:
                expense = engine._claim(session, expense_id, dependent=False, again_anyway=batch.again_anyway)
                if expense is not None:
                    expense.supplier_id = supplier_id
                    session.add(expense)
        for expense_id in waiting:
            engine._send_direct_cost(batch, company_id, connection_id, expense_id, cause)

    prerequisites.create_then_wait(engine, batch, prerequisites.Prerequisite(
        company_id, connection_id, "suppliers", name, label=f"supplier {name}",
        push=lambda waiting: _push_supplier(engine, batch, company_id, connection_id, name, waiting),
        use_existing=use_existing, same_record=str.casefold), dependents, cause)


def _push_supplier(engine: PushEngine, batch: PushBatch, company_id: str, connection_id: str, name: str,
                   dependents: list[int]) -> str | None:
    with Session(engine.db) as session:
        plan = create_models.supplier_body(create_models.Models.load(session, company_id, connection_id), name)
    if plan.body is None:
        engine._not_planned(batch, dependents, "Not sent: " + "; ".join(plan.problems))
        return None
    with session_scope(engine.db) as session:
        attempt = PushAttempt(company_id=company_id, data_type="suppliers", creates_code=name,
                              idempotency_key=new_idempotency_key(), request_json=jsonmoney.dumps(plan.body).decode())
        session.add(attempt)
    try:
        with engine._sending(attempt.id, company_id, "suppliers"):
            answer = engine.client().push_supplier(company_id, connection_id, plan.body,
                                                   idempotency_key=attempt.idempotency_key)
    except CodatError as exc:
        outcome = "unknown" if isinstance(exc, PushOutcomeUnknown) else "rejected"
        detail = f"Not sent: creating the supplier {name} did not succeed ({exc.message}); push again"
        with session_scope(engine.db) as session:
            finish_attempt(session, attempt.id, outcome, None, str(exc))
        engine._not_planned(batch, dependents, detail)
        return None
    result = with_record_id(engine.client(), company_id, name, OperationResult.from_push_operation(answer))
    with session_scope(engine.db) as session:
        session.add(PushOperation(
            key=result.key, company_id=company_id, connection_id=connection_id, data_type="suppliers",
            creates_code=name, status="Pending", requested_at=result.requested_at or utcnow()))
        finish_attempt(session, attempt.id, "sent", result.key)
    if result.is_final:
        engine.submit_result(company_id, result, Cause.engine("synchronous answer"))
    return result.key
