"""What codatdesk knows about the accounting platforms behind Codat, by platform key.

The keys are Codat's (codat-docs ``docs/integrations/accounting/overview.md``, "Platform keys").
On-premise integrations run on the customer's machine through a connector: their pushes can stay
``Pending`` indefinitely, so codatdesk always sends them with a ``timeoutInMinutes``
(codat-docs ``docs/using-the-api/push.md``, "Timeouts").
"""

from __future__ import annotations

from dataclasses import dataclass

XERO = "gbol"
QUICKBOOKS_ONLINE = "qhyg"
QUICKBOOKS_ONLINE_SANDBOX = "ndsk"
QUICKBOOKS_DESKTOP = "pqsw"
SAGE_50_UK = "hbql"


@dataclass(frozen=True)
class Integration:
    key: str
    name: str
    on_premise: bool = False


KNOWN: dict[str, Integration] = {i.key: i for i in (
    Integration(XERO, "Xero"),
    Integration(QUICKBOOKS_ONLINE, "QuickBooks Online"),
    Integration(QUICKBOOKS_ONLINE_SANDBOX, "QuickBooks Online Sandbox"),
    Integration(QUICKBOOKS_DESKTOP, "QuickBooks Desktop", on_premise=True),
    Integration(SAGE_50_UK, "Sage 50 (UK)", on_premise=True),
    Integration("jcrp", "Sage 200 Standard", on_premise=True),
)}

# A push to an on-premise ledger that has not ended after this long ends TimedOut (outcome unknown)
# instead of staying Pending for days while the desktop application is closed.
ON_PREMISE_TIMEOUT_MINUTES = 24 * 60


def is_on_premise(integration_key: str | None) -> bool:
    known = KNOWN.get(integration_key or "")
    return bool(known and known.on_premise)


def default_timeout_minutes(integration_key: str | None, configured: int | None) -> int | None:
    """The ``timeoutInMinutes`` to send: the user's setting, else a day for on-premise ledgers."""
    if configured is not None:
        return configured
    return ON_PREMISE_TIMEOUT_MINUTES if is_on_premise(integration_key) else None
