"""Every state machine of the store besides the expense's (``codatdesk.states``): the values a column
may hold, as a ``StrEnum`` stored as its value, and the one table of the moves between them.

Each machine has one writer (below, or ``store.history.change_status`` for expenses) that refuses a
move its table does not hold with :class:`IllegalTransition`. Tables are total: every state has an
entry (an empty one: final), so a new state cannot be added without saying where it may go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

E = TypeVar("E", bound=StrEnum)


class IllegalTransition(Exception):
    def __init__(self, machine: str, current: str, new: str) -> None:
        super().__init__(f"{machine}: {current!r} cannot become {new!r}")
        self.machine, self.current, self.new = machine, current, new


@dataclass(frozen=True)
class Machine(Generic[E]):
    name: str
    states: type[E]
    moves: dict[E, frozenset[E]]  # from -> every state it may become

    def allows(self, current: str, new: str) -> bool:
        return self.states(new) in self.moves[self.states(current)]

    def check(self, current: str, new: str) -> E:
        if not self.allows(current, new):
            raise IllegalTransition(self.name, current, new)
        return self.states(new)

    def is_final(self, state: str) -> bool:
        return not self.moves[self.states(state)]


# -- PushOperation.status (Codat's PushOperationStatus) -------------------------------------------

class OperationStatus(StrEnum):
    PENDING = "Pending"
    SUCCESS = "Success"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"


OP = OperationStatus
OPERATION = Machine("push operation", OperationStatus, {
    OP.PENDING: frozenset({OP.SUCCESS, OP.FAILED, OP.TIMED_OUT}),
    OP.SUCCESS: frozenset(),
    OP.FAILED: frozenset(),
    # timeoutInMinutes only flips Codat's status; a write already on its way may still land, and then a
    # late Success for the same key wins (codat-docs docs/using-the-api/push.md; codatio/codat-docs PR #1571).
    # The only place this rule is written.
    OP.TIMED_OUT: frozenset({OP.SUCCESS}),
})


def set_operation_status(op: Any, new: str) -> OperationStatus:
    """The one writer of ``PushOperation.status``. The caller owns the transaction."""
    status = OPERATION.check(op.status, new)
    op.status = status.value
    return status


# -- PushAttempt.outcome -----------------------------------------------------------------------------

class AttemptOutcome(StrEnum):
    SENDING = "sending"    # stored before the POST leaves
    SENT = "sent"          # Codat answered with a push operation key
    REJECTED = "rejected"  # Codat refused the POST itself
    UNKNOWN = "unknown"    # no answer: it may have reached Codat (lost_answers asks again)
    RESOLVED = "resolved"  # an unknown attempt whose operation was found (same-key resend or push history)
    NOT_SENT = "not_sent"  # it never reached Codat (a transient refusal, or absent from the push history)


A = AttemptOutcome
OPEN_OUTCOMES = (A.SENDING, A.UNKNOWN)  # the push may have reached Codat without us storing its key
ATTEMPT = Machine("push attempt", AttemptOutcome, {
    A.SENDING: frozenset({A.SENT, A.REJECTED, A.UNKNOWN, A.NOT_SENT}),
    # A resend under the same key answers for it; else Codat's push history does.
    A.UNKNOWN: frozenset({A.RESOLVED, A.REJECTED, A.NOT_SENT}),
    A.SENT: frozenset(),
    A.REJECTED: frozenset(),
    A.RESOLVED: frozenset(),
    A.NOT_SENT: frozenset(),
})


def set_attempt_outcome(attempt: Any, new: str) -> AttemptOutcome:
    """The one writer of ``PushAttempt.outcome``."""
    outcome = ATTEMPT.check(attempt.outcome, new)
    attempt.outcome = outcome.value
    return outcome


# -- WebhookDelivery.verdict -------------------------------------------------------------------------

class Verdict(StrEnum):
    PENDING = "pending"    # stored, not applied yet
    PARKED = "parked"      # a result for a key not stored yet: applied again when it is
    APPLIED = "applied"
    STALE = "stale"        # nothing to change (an older or repeated fact)
    UNUSABLE = "unusable"  # verified, but not a body codatdesk can read
    IGNORED = "ignored"    # an event type codatdesk does not use (or the tunnel self-test)
    DROPPED = "dropped"    # another company's event (webhooks/scope.py): counted, never parked


V = Verdict
_APPLIED_TO = frozenset({V.APPLIED, V.STALE, V.UNUSABLE, V.IGNORED, V.DROPPED})
DELIVERY = Machine("webhook delivery", Verdict, {
    V.PENDING: _APPLIED_TO | {V.PARKED},
    V.PARKED: _APPLIED_TO | {V.PARKED},  # released again before its key arrived: stays parked
    **{verdict: frozenset() for verdict in _APPLIED_TO},
})
OPEN_VERDICTS = (V.PENDING, V.PARKED)


def set_verdict(row: Any, new: str, detail: str = "") -> Verdict:
    """The one writer of ``WebhookDelivery.verdict`` after the inbox stored it."""
    verdict = DELIVERY.check(row.verdict, new)
    row.verdict = verdict.value
    row.verdict_detail = detail
    return verdict


# -- Connection.status (Codat's Connection.status, plus Deleted for connection.deleted / a 404) --------

class ConnectionStatus(StrEnum):
    PENDING_AUTH = "PendingAuth"
    LINKED = "Linked"
    UNLINKED = "Unlinked"
    DEAUTHORIZED = "Deauthorized"
    DELETED = "Deleted"  # codatdesk's: Codat no longer has it (a deleted connection id never comes back)


C = ConnectionStatus
_LIVE = frozenset({C.PENDING_AUTH, C.LINKED, C.UNLINKED, C.DEAUTHORIZED, C.DELETED})
CONNECTION = Machine("connection", ConnectionStatus, {
    # Codat moves a live connection between these freely (relink, deauthorize, unlink:
    # codat-docs docs/core-concepts/connections.md); Deleted is the end.
    **dict.fromkeys(_LIVE - {C.DELETED}, _LIVE),
    C.DELETED: frozenset({C.DELETED}),
})
NOT_CHOSEN = "not chosen"  # no connection chosen for the company (not a Codat status)


def connection_is_down(status: str) -> bool:
    """Pushes stop: the connection is known and not Linked (PendingAuth, Unlinked, Deauthorized, Deleted).
    The engine, the banner and the status bar all ask this."""
    return status in _LIVE and status != C.LINKED  # "not chosen", "not checked yet", "unknown (…)": not known down


@dataclass(frozen=True)
class ConnectionFact:
    """What one source observed about a connection, and when (Codat's clock for a webhook's
    generatedDate, ours for the start of a GET): facts are applied in that order, never older over newer."""

    connection_id: str
    company_id: str
    status: str
    observed_at: dt.datetime
    platform_name: str | None = None
    integration_key: str | None = None
    link_url: str | None = None
    errors_json: str | None = None
