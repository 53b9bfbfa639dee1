"""A created account (or supplier) whose id Codat did not say: find it by its code (name) after a sync.

A push's Success normally names the new record in ``changes[]`` (``results.created_record_id``);
when neither the answer nor the push operation does, the account is in the ledger but its id is
unknown. Codat serves records a push wrote only after the next sync of their data type (codat-docs
``docs/using-the-api/push.md``), so a sync of ``chartOfAccounts`` is queued and the re-read chart of
accounts is searched for the code codatdesk created. Found: the dependents go on with that id.
Not found: the result stays without an id and the dependents say how to go on.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from codatdesk.codat import CodatClient, CodatError
from codatdesk.engine.results import OperationResult

log = logging.getLogger(__name__)

# A sync queued through Codat may take a moment before the list serves the new account
# (sandbox choice: three reads, a second and two apart; a miss asks the user to map it).
READ_DELAYS = (0.0, 1.0, 2.0)


def with_record_id(client: CodatClient, company_id: str, code: str | None, result: OperationResult,
                   delays: tuple[float, ...] = READ_DELAYS) -> OperationResult:
    """``result`` with the new account's (or supplier's) id filled in from the re-read list, when it lacked one."""
    if result.status != "Success" or result.record_id or not code:
        return result
    supplier = result.data_type == "suppliers"
    try:
        client.queue_sync(company_id, "suppliers" if supplier else "chartOfAccounts")
        pause = threading.Event()  # never set: a wait that cannot be cut short by a spurious wake-up
        for delay in delays:
            if delay:
                pause.wait(delay)
            found = (find_supplier_id(client.list_suppliers(company_id), code) if supplier
                     else find_account_id(client.list_accounts(company_id), code))
            if found:
                log.info("account %s found by its code after a sync: %s", code, found)
                return dataclasses.replace(result, record_id=found)
    except CodatError as exc:
        log.warning("looking up the created account %s failed: %s", code, exc)
    return result


def find_account_id(accounts: list[dict], code: str) -> str | None:
    """The id of the one live account whose nominal code is ``code`` (none when two share it)."""
    return _one(accounts, "nominalCode", code)


def find_supplier_id(suppliers: list[dict], name: str) -> str | None:
    """The id of the one live supplier named ``name`` (none when two share it)."""
    return _one(suppliers, "supplierName", name)


def _one(records: list[dict], field: str, value: str) -> str | None:
    hits = {str(r["id"]) for r in records if isinstance(r, dict) and r.get("id")
            and str(r.get(field) or "").strip().casefold() == value.strip().casefold()
            and not (r.get("metadata") or {}).get("isDeleted")}
    return hits.pop() if len(hits) == 1 else None
