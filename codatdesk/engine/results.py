"""What Codat says about one push operation, from a webhook or from GET /push/{key}."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

FINAL_STATUSES = ("Success", "Failed", "TimedOut")
# The recordRef.dataType that a push of each data type creates (an account push's is chartOfAccounts;
# "accounts" is accepted as the same thing).
# Xero writes a negative direct cost as receive money: its Success names a ``directIncomes`` record
# (oas Xero directCosts model, "When negative, the push item will be converted to a DirectIncome").
_CREATED_TYPES = {"chartOfAccounts": {"chartOfAccounts", "accounts"}, "accounts": {"chartOfAccounts", "accounts"},
                  "directCosts": {"directCosts", "directIncomes"}}


def created_record_id(changes: Any, data_type: str | None) -> str | None:
    """The id of the record the push created: the ``changes[]`` entry of type ``Created`` whose
    ``recordRef.dataType`` is the pushed data type, not whichever entry comes first (a push may also
    report, say, a modified supplier or an attachment)."""
    wanted = _CREATED_TYPES.get(data_type or "", {data_type}) if data_type else None
    created = [ref for change in (changes if isinstance(changes, list) else [])
               if isinstance(change, dict) and change.get("type") == "Created"
               and isinstance(ref := change.get("recordRef") or {}, dict) and ref.get("id")]
    for ref in created:
        if wanted is None or ref.get("dataType") in wanted:
            return str(ref["id"])
    # The spec does not require recordRef.dataType: a lone Created change without one is the record pushed.
    if len(created) == 1 and not created[0].get("dataType"):
        return str(created[0]["id"])
    return None


def parse_datetime(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Codat writes 7 fractional digits ("...58.9235368Z"); Python takes at most 6.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(digits):]
        text = f"{head}.{digits[:6]}{rest}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class OperationResult:
    key: str
    status: str  # Pending|Success|Failed|TimedOut
    data_type: str | None = None
    record_id: str | None = None
    completed_at: dt.datetime | None = None
    # Details come only from GET /push/{key}; write webhooks carry none.
    has_details: bool = False
    error_message: str | None = None
    validation_errors: list[dict] = field(default_factory=list)
    validation_warnings: list[dict] = field(default_factory=list)
    status_code: int | None = None
    requested_at: dt.datetime | None = None

    @classmethod
    def from_push_operation(cls, body: dict) -> OperationResult:
        validation = body.get("validation") or {}
        record_id = created_record_id(body.get("changes"), body.get("dataType"))
        return cls(
            key=str(body["pushOperationKey"]),
            status=str(body.get("status") or "Pending"),
            data_type=body.get("dataType"),
            record_id=record_id,
            completed_at=parse_datetime(body.get("completedOnUtc")),
            has_details=True,
            error_message=body.get("errorMessage"),
            validation_errors=list(validation.get("errors") or []),
            validation_warnings=list(validation.get("warnings") or []),
            status_code=body.get("statusCode"),
            requested_at=parse_datetime(body.get("requestedOnUtc")),
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def describe_failure(status: str, error_message: str | None, validation_errors: list[dict]) -> str:
    """A sentence an accountant can act on, from Codat's error message and validation errors."""
    if status == "TimedOut":
        head = "Codat timed out waiting for the accounting software"
    else:
        head = "Codat rejected this expense"
    parts = validation_lines(validation_errors)
    if parts:
        return f"{head}: " + "; ".join(parts)
    if error_message:
        return f"{head}: {error_message}"
    return head + "."


def validation_lines(items: list[dict]) -> list[str]:
    """Codat's validation entries ``{itemId, message, validatorName}`` as "message (itemId)"."""
    lines = []
    for item in items:
        message = str(item.get("message") or "").strip() if isinstance(item, dict) else ""
        where = str(item.get("itemId") or "").strip() if isinstance(item, dict) else ""
        if message:
            lines.append(message + (f" ({where})" if where and where not in message else ""))
    return lines


def describe_warnings(validation_warnings: list[dict]) -> str | None:
    """A successful push's ``validation.warnings``: it is in the ledger, but Codat flagged something to check."""
    lines = validation_lines(validation_warnings)
    if not lines:
        return None
    return "In the ledger; Codat warned: " + "; ".join(lines) + ". Check the entry in the accounting software."


# Kept as the operation's error message once Codat answers 404 for it past ``PushEngine.gone_after``:
# its reasons (or its outcome) will not arrive, so reconciliation stops asking.
UNKNOWN_TO_CODAT = "Codat no longer knows this push operation (it answers 404 for it)"


FETCHING_REASONS = "Codat rejected this expense; fetching the reasons…"


def outcome_unknown_detail(reason: str) -> str:
    """An outcome-unknown expense's explanation: what Codat said, and why it is not simply failed."""
    return (f"{reason} It may still have been written: Codat's TimedOut does not undo a write already on "
            "its way. codatdesk keeps checking with Codat and shows Push complete if it lands. Push it again "
            "anyway only if you know it is not in the ledger: it could be written twice.")


def dumps_list(items: list[dict]) -> str | None:
    return json.dumps(items, default=str) if items else None
