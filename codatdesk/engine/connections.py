"""Which of a company's Codat connections codatdesk pushes to.

A Codat company can hold several connections: one to its accounting software, others to banks,
commerce or expense tools (Codat-Platform.json, ``Connection.sourceType``: Accounting, Banking,
Commerce, Other, Unknown; codat-docs ``docs/core-concepts/connections.md``). Direct costs are
accounting records, so only a ``Linked`` connection whose ``sourceType`` is ``Accounting`` is
offered or chosen.

A replaced connection: Codat has no event that names a successor. When the chosen connection is
gone (404, ``connection.deleted``) or no longer ``Linked`` (``Unlinked``, ``Deauthorized``: it must
be re-linked before any new write, ``docs/core-concepts/connections.md``) and the company holds a
``Linked`` accounting connection to the same integration under another id, that one is its
replacement (a codatdesk choice: the user relinked the same ledger as a new connection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from codatdesk.integrations import KNOWN

ACCOUNTING = "Accounting"
LINKED = "Linked"


def is_accounting(connection: Mapping[str, Any]) -> bool:
    """``sourceType`` is required in Codat's Connection schema; an answer without it still counts
    when it names an accounting platform codatdesk knows (``integrations.KNOWN``)."""
    source = connection.get("sourceType")
    if source:
        return source == ACCOUNTING
    return str(connection.get("integrationKey") or "") in KNOWN


def accounting_connections(connections: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """What the connection picker offers: accounting connections, Linked ones first."""
    accounting = [c for c in connections if is_accounting(c)]
    return sorted(accounting, key=lambda c: c.get("status") != LINKED)


def pick_accounting(connections: Iterable[Mapping[str, Any]], *,
                    integration_key: str | None = None) -> Mapping[str, Any] | None:
    """The first Linked accounting connection (to ``integration_key`` when given), else None."""
    for connection in connections:
        if not is_accounting(connection) or connection.get("status") != LINKED:
            continue
        if integration_key and connection.get("integrationKey") != integration_key:
            continue
        return connection
    return None


def replacement_for(current_id: str, integration_key: str | None,
                    connections: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Linked accounting connection that replaces ``current_id`` (same integration), if any."""
    others = [c for c in connections if c.get("id") != current_id]
    if integration_key:
        return pick_accounting(others, integration_key=integration_key)
    # The dead connection's integration is unknown (never read): only an unambiguous successor counts.
    linked = [c for c in others if is_accounting(c) and c.get("status") == LINKED]
    return linked[0] if len(linked) == 1 else None


def find_replacement(client: Any, company_id: str, dead_id: str,
                     integration_key: str | None) -> dict[str, Any] | None:
    """Ask Codat for the company's connections; the Linked accounting one that replaces ``dead_id``."""
    found = replacement_for(dead_id, integration_key, client.list_connections(company_id))
    return dict(found) if found is not None else None


def replaced_notice(company_name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    platform = new.get("platformName") or new.get("integrationKey") or "accounting software"
    was = old.get("status") or "gone"
    return (f"The {platform} connection of {company_name} was replaced: connection {old.get('id')} is {was}, and "
            f"{new.get('id')} is Linked to the same {platform}. codatdesk now pushes to {new.get('id')}; nothing "
            "is sent to the old one.")
