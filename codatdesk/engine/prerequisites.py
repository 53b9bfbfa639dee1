"""The shape both prerequisite chains share (an account, a supplier): create it once, the expenses wait.

Several expenses that need the same missing record share one push of it: under a lock per record, a
pending or successful push of the same record is reused; otherwise it is pushed. The expenses then
wait (*Waiting*, ``waiting_on_key``) and the applier releases them with the new record's id. A push
that already succeeded with a known id needs no wait: its id goes on the expenses and they are sent.
What differs per kind (the body, the request, where the id goes) comes in as typed callables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlmodel import Session, col, select

from codatdesk.states import ExpenseStatus, Trigger, sending_trigger
from codatdesk.store.db import session_scope
from codatdesk.store.history import Cause, change_status
from codatdesk.store.models import PushOperation

if TYPE_CHECKING:
    from codatdesk.engine.pusher import PushBatch, PushEngine

_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Prerequisite:
    """A record the ledger lacks that some expenses need first."""

    company_id: str
    connection_id: str
    data_type: Literal["chartOfAccounts", "suppliers"]
    code: str  # ``PushOperation.creates_code``: the account's code, the supplier's name
    label: str  # how the rows name it: "account 429 General Expenses", "supplier Acme Ltd"
    # Push it for ``dependents``: Codat's push operation key, or None once the dependents say why not.
    push: Callable[[list[int]], str | None]
    # It exists already (a successful push with this record id): put the id on the dependents and send them.
    use_existing: Callable[[str, list[int]], None]
    same_record: Callable[[str], str] = str  # names that mean the same record share one lock (casefold)


def create_then_wait(engine: PushEngine, batch: PushBatch, prerequisite: Prerequisite, dependents: list[int],
                     cause: Cause) -> None:
    """One push of ``prerequisite`` for every expense in ``dependents``; they wait for it."""
    from codatdesk.engine.pusher import AGAIN_ANYWAY_DETAIL

    p = prerequisite
    with _locks_guard:
        lock = _locks.setdefault((p.company_id, p.data_type, p.same_record(p.code)), threading.Lock())
    with lock:
        with Session(engine.db) as session:
            existing = session.exec(select(PushOperation).where(
                PushOperation.company_id == p.company_id, PushOperation.data_type == p.data_type,
                PushOperation.creates_code == p.code, col(PushOperation.status).in_(("Pending", "Success")),
            ).order_by(col(PushOperation.requested_at).desc())).first()
        if existing is not None and existing.status == "Success" and existing.record_id:
            p.use_existing(existing.record_id, dependents)
            return
        key = existing.key if existing is not None else p.push(dependents)
        if key is None:
            return
        with session_scope(engine.db) as session:
            for expense_id in dependents:
                expense = engine._claim(session, expense_id, dependent=False, again_anyway=batch.again_anyway)
                if expense is None:
                    continue
                trigger = sending_trigger(ExpenseStatus(expense.status), Trigger.WAIT_FOR_PREREQUISITE)
                detail = f"Waiting for Codat to create the {p.label}".rstrip()
                if trigger is Trigger.WAIT_FOR_PREREQUISITE_ANYWAY:
                    detail += f". {AGAIN_ANYWAY_DETAIL}"
                change_status(session, expense, trigger, cause, waiting_on_key=key, detail=detail)
        batch.count_sent(len(dependents))
        engine.key_stored(key)
        # The prerequisite may have finished before these started waiting: a shared earlier push, or this one,
        # whose webhook can be applied between its key's commit and the commit above. Nothing to do otherwise.
        engine.resume_chain(key)
