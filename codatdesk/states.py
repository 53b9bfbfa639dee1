"""Expense statuses and the one table of allowed transitions.

Every status change in the product goes through :func:`next_status` (pure) and
``codatdesk.store.history.change_status`` (which records it). Nothing else assigns
``Expense.status``.
"""

from __future__ import annotations

from enum import StrEnum


class ExpenseStatus(StrEnum):
    NOT_PUSHED = "Not pushed"
    WAITING = "Waiting"
    IN_PROGRESS = "Push in progress"
    COMPLETE = "Push complete"
    FAILED = "Push failed"
    # Codat's push ended ``TimedOut``. Codat documents that a timed-out write may still reach
    # the ledger (timeoutInMinutes only flips Codat's status: docs ``push.md``, codatio/codat-docs
    # PR #1571), so nobody knows yet whether it is there. Stored as "Timed out" until schema 0002.
    OUTCOME_UNKNOWN = "Outcome unknown"
    # Team mode: a desktop asked the team's server to send it (a ``push_request`` row); the server
    # has not sent it yet. Never seen by one person's codatdesk, which sends at once.
    QUEUED = "Push requested"

    @property
    def is_final(self) -> bool:
        """No answer from Codat is awaited for the current push (reconciliation may still learn more)."""
        return self in (ExpenseStatus.COMPLETE, ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN)

    @property
    def can_push(self) -> bool:
        """May be sent by an ordinary push. An outcome-unknown row may already be in the ledger:
        only an explicit "push again anyway" (``Trigger.PUSH_SENT_ANYWAY``) sends it again."""
        return self in (ExpenseStatus.NOT_PUSHED, ExpenseStatus.FAILED)

    def may_send(self, *, requested: bool = False) -> bool:
        """May a push send it now. An ordinary push: a row that ``can_push``. The team server sending
        desktops' requests: only a row still Push requested, so a row another server sent meanwhile (now
        in progress, complete, or refused by Codat) is not sent again after a take-over."""
        return self is ExpenseStatus.QUEUED if requested else self.can_push

    @classmethod
    def parse(cls, text: str) -> ExpenseStatus:
        """Accept the display text, the enum name, or a slug (``push-failed``)."""
        key = text.strip().lower().replace("-", " ").replace("_", " ")
        for status in cls:
            if key in (status.value.lower(), status.name.lower().replace("_", " ")):
                return status
        aliases = {"in progress": cls.IN_PROGRESS, "complete": cls.COMPLETE, "failed": cls.FAILED,
                   "pending": cls.IN_PROGRESS, "unknown": cls.OUTCOME_UNKNOWN,
                   # The name before 0.x (scripts may still say so): Codat's TimedOut.
                   "timed out": cls.OUTCOME_UNKNOWN, "timedout": cls.OUTCOME_UNKNOWN}
        if key in aliases:
            return aliases[key]
        raise ValueError(f"unknown status {text!r}; one of: " + ", ".join(s.value for s in cls))


class Trigger(StrEnum):
    """What happened to an expense. The cause (who/which event) is recorded beside it."""

    PUSH_SENT = "push sent"                      # the POST returned a push operation key
    WAIT_FOR_PREREQUISITE = "waiting for prerequisite"
    PREREQUISITE_FAILED = "prerequisite failed"
    RESULT_SUCCESS = "Success"
    RESULT_FAILED = "Failed"
    RESULT_TIMED_OUT = "TimedOut"
    PUSH_REJECTED = "push rejected"              # Codat refused the POST itself (4xx), nothing written
    RESET = "reset"                              # user puts a failed row back to Not pushed
    # The user chose to send an outcome-unknown row again, accepting that the earlier push may
    # be in the ledger already (a duplicate). The only way out of Outcome unknown by a push.
    PUSH_SENT_ANYWAY = "push sent again anyway"
    WAIT_FOR_PREREQUISITE_ANYWAY = "waiting for prerequisite (again anyway)"  # fits status_change.trigger (40)
    PUSH_REQUESTED = "push requested"            # team mode: a desktop queued it for the server
    REQUEST_REFUSED = "push request refused"     # the server's checks kept it back: nothing was sent
    # An edit of a row already in the ledger was sent to Codat as an update (Expenses route, PUT of a Payment):
    # its result comes like a push's.
    UPDATE_SENT = "update sent"


class InvalidTransition(Exception):
    def __init__(self, current: ExpenseStatus, trigger: Trigger) -> None:
        super().__init__(f"cannot apply {trigger.value!r} to an expense in state {current.value!r}")
        self.current = current
        self.trigger = trigger


S, T = ExpenseStatus, Trigger

# (from, trigger) -> to. A failed expense that the user retries goes through PUSH_SENT /
# WAIT_FOR_PREREQUISITE again, from its failed state. An outcome-unknown one is never
# retried or reset: reconciliation resolves it (a late Success), or the user pushes it again
# anyway (the *_ANYWAY triggers, recorded as such).
TRANSITIONS: dict[tuple[ExpenseStatus, Trigger], ExpenseStatus] = {
    (S.NOT_PUSHED, T.PUSH_SENT): S.IN_PROGRESS,
    (S.NOT_PUSHED, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.NOT_PUSHED, T.PUSH_REJECTED): S.FAILED,
    (S.WAITING, T.PUSH_SENT): S.IN_PROGRESS,
    (S.WAITING, T.PREREQUISITE_FAILED): S.FAILED,
    (S.WAITING, T.PUSH_REJECTED): S.FAILED,
    (S.IN_PROGRESS, T.RESULT_SUCCESS): S.COMPLETE,
    (S.IN_PROGRESS, T.RESULT_FAILED): S.FAILED,
    (S.IN_PROGRESS, T.RESULT_TIMED_OUT): S.OUTCOME_UNKNOWN,
    (S.IN_PROGRESS, T.PUSH_REJECTED): S.FAILED,
    (S.FAILED, T.PUSH_SENT): S.IN_PROGRESS,
    (S.FAILED, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.FAILED, T.PUSH_REJECTED): S.FAILED,
    (S.FAILED, T.RESET): S.NOT_PUSHED,
    (S.OUTCOME_UNKNOWN, T.PUSH_SENT_ANYWAY): S.IN_PROGRESS,
    (S.OUTCOME_UNKNOWN, T.WAIT_FOR_PREREQUISITE_ANYWAY): S.WAITING,
    (S.OUTCOME_UNKNOWN, T.PUSH_REJECTED): S.FAILED,  # only after "push again anyway"
    # A TimedOut operation may still have been written upstream (Codat's docs):
    # a later Success for the same key wins.
    (S.OUTCOME_UNKNOWN, T.RESULT_SUCCESS): S.COMPLETE,
    # Team mode: the server sends a requested row like a not-pushed one, or says why not.
    (S.NOT_PUSHED, T.PUSH_REQUESTED): S.QUEUED,
    (S.FAILED, T.PUSH_REQUESTED): S.QUEUED,
    (S.QUEUED, T.PUSH_SENT): S.IN_PROGRESS,
    (S.QUEUED, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.QUEUED, T.PUSH_REJECTED): S.FAILED,
    (S.QUEUED, T.REQUEST_REFUSED): S.NOT_PUSHED,
    (S.COMPLETE, T.UPDATE_SENT): S.IN_PROGRESS,
}

RESULT_TRIGGERS = {"Success": T.RESULT_SUCCESS, "Failed": T.RESULT_FAILED, "TimedOut": T.RESULT_TIMED_OUT}


# The trigger that sends (or queues) an expense in ``status``: the *_ANYWAY one for an
# outcome-unknown expense, so the history says the user accepted the duplicate risk.
SENDING_TRIGGERS = {T.PUSH_SENT: T.PUSH_SENT_ANYWAY, T.WAIT_FOR_PREREQUISITE: T.WAIT_FOR_PREREQUISITE_ANYWAY}


def sending_trigger(status: ExpenseStatus, trigger: Trigger) -> Trigger:
    return SENDING_TRIGGERS[trigger] if status is ExpenseStatus.OUTCOME_UNKNOWN else trigger


def next_status(current: ExpenseStatus, trigger: Trigger) -> ExpenseStatus:
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise InvalidTransition(current, trigger) from None


def can_apply(current: ExpenseStatus, trigger: Trigger) -> bool:
    return (current, trigger) in TRANSITIONS
