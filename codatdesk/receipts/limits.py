"""What each ledger accepts as an attachment, checked before a receipt is uploaded.

Source: codat-docs ``docs/expenses/sync-process/uploading-receipts.md`` ("File size and format
support"), written for the Expenses route; the ledgers' limits are the ledgers' own, so codatdesk
applies the same table to direct-cost attachments (codatdesk choice: the Accounting spec's
``upload-direct-cost-attachment`` names no limit). QuickBooks Desktop takes no attachment at all
(``docs/integrations/accounting/quickbooksdesktop/accounting-quickbooksdesktop.md``).
Ledgers the docs do not list (Sage 50 among them): sandbox choice, 10 MB and PDF/PNG/JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

from codatdesk import integrations

_MB = 1024 * 1024
_DOCS = "codat-docs docs/expenses/sync-process/uploading-receipts.md"
_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/heic": "HEIC"}


@dataclass(frozen=True)
class AttachmentLimit:
    ledger: str
    max_bytes: int | None  # None: the ledger takes no attachments
    media_types: frozenset[str]
    source: str


_COMMON = frozenset({"application/pdf", "image/png", "image/jpeg"})  # HEIC is on none of the docs' lists
LIMITS = {
    # Xero: the Expenses spec's upload-expense-attachment table says 3 MB, the docs page 10 MB; the stricter one.
    integrations.XERO: AttachmentLimit("Xero", 3 * _MB, _COMMON,
                                       "Codat-Sync-Expenses spec upload-expense-attachment; "
                                       f"{_DOCS} says 10 MB, the stricter one applies"),
    integrations.QUICKBOOKS_ONLINE: AttachmentLimit("QuickBooks Online", 100 * _MB, _COMMON, _DOCS),
    integrations.QUICKBOOKS_ONLINE_SANDBOX: AttachmentLimit("QuickBooks Online", 100 * _MB, _COMMON, _DOCS),
    integrations.QUICKBOOKS_DESKTOP: AttachmentLimit(
        "QuickBooks Desktop", None, frozenset(),
        "codat-docs docs/integrations/accounting/quickbooksdesktop/accounting-quickbooksdesktop.md"),
}
DEFAULT_LIMIT = AttachmentLimit("this ledger", 10 * _MB, _COMMON, "sandbox choice")


def limit_for(integration_key: str | None) -> AttachmentLimit:
    return LIMITS.get(integration_key or "", DEFAULT_LIMIT)


def refusal(integration_key: str | None, media_type: str, size: int) -> str | None:
    """Why the ledger would not take this file (naming the limit and what to do), or None."""
    limit = limit_for(integration_key)
    if limit.max_bytes is None:
        return (f"{limit.ledger} does not accept attachments through Codat ({limit.source}). "
                "Attach the receipt in the ledger itself.")
    kind = _NAMES.get(media_type, media_type)
    if media_type not in limit.media_types:
        accepted = ", ".join(sorted(_NAMES[t] for t in limit.media_types))
        return (f"{limit.ledger} does not accept {kind} attachments (it takes {accepted}: {limit.source}). "
                "Save the receipt as PDF or JPEG and attach that instead.")
    if size > limit.max_bytes:
        return (f"This {kind} is {size / _MB:.1f} MB; {limit.ledger} accepts attachments up to "
                f"{limit.max_bytes // _MB} MB ({limit.source}). Scan it at a lower resolution and attach it again.")
    return None
