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
    TIMED_OUT = "Timed out"

    @property
    def is_final(self) -> bool:
        return self in (ExpenseStatus.COMPLETE, ExpenseStatus.FAILED, ExpenseStatus.TIMED_OUT)

    @property
    def can_push(self) -> bool:
        return self in (ExpenseStatus.NOT_PUSHED, ExpenseStatus.FAILED, ExpenseStatus.TIMED_OUT)

    @classmethod
    def parse(cls, text: str) -> "ExpenseStatus":
        """Accept the display text, the enum name, or a slug (``push-failed``)."""
        key = text.strip().lower().replace("-", " ").replace("_", " ")
        for status in cls:
            if key in (status.value.lower(), status.name.lower().replace("_", " ")):
                return status
        aliases = {"in progress": cls.IN_PROGRESS, "complete": cls.COMPLETE, "failed": cls.FAILED,
                   "timedout": cls.TIMED_OUT, "pending": cls.IN_PROGRESS}
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


class InvalidTransition(Exception):
    def __init__(self, current: ExpenseStatus, trigger: Trigger) -> None:
        super().__init__(f"cannot apply {trigger.value!r} to an expense in state {current.value!r}")
        self.current = current
        self.trigger = trigger


S, T = ExpenseStatus, Trigger

# (from, trigger) -> to. A failed or timed-out expense that the user retries goes
# through PUSH_SENT / WAIT_FOR_PREREQUISITE again, from its failed state.
TRANSITIONS: dict[tuple[ExpenseStatus, Trigger], ExpenseStatus] = {
    (S.NOT_PUSHED, T.PUSH_SENT): S.IN_PROGRESS,
    (S.NOT_PUSHED, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.NOT_PUSHED, T.PUSH_REJECTED): S.FAILED,
    (S.WAITING, T.PUSH_SENT): S.IN_PROGRESS,
    (S.WAITING, T.PREREQUISITE_FAILED): S.FAILED,
    (S.WAITING, T.PUSH_REJECTED): S.FAILED,
    (S.IN_PROGRESS, T.RESULT_SUCCESS): S.COMPLETE,
    (S.IN_PROGRESS, T.RESULT_FAILED): S.FAILED,
    (S.IN_PROGRESS, T.RESULT_TIMED_OUT): S.TIMED_OUT,
    (S.IN_PROGRESS, T.PUSH_REJECTED): S.FAILED,
    (S.FAILED, T.PUSH_SENT): S.IN_PROGRESS,
    (S.FAILED, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.FAILED, T.PUSH_REJECTED): S.FAILED,
    (S.FAILED, T.RESET): S.NOT_PUSHED,
    (S.TIMED_OUT, T.PUSH_SENT): S.IN_PROGRESS,
    (S.TIMED_OUT, T.WAIT_FOR_PREREQUISITE): S.WAITING,
    (S.TIMED_OUT, T.PUSH_REJECTED): S.FAILED,
    # A TimedOut operation may still have been written upstream (Codat's docs):
    # a later Success for the same key wins.
    (S.TIMED_OUT, T.RESULT_SUCCESS): S.COMPLETE,
    (S.TIMED_OUT, T.RESET): S.NOT_PUSHED,
}

RESULT_TRIGGERS = {"Success": T.RESULT_SUCCESS, "Failed": T.RESULT_FAILED, "TimedOut": T.RESULT_TIMED_OUT}


def next_status(current: ExpenseStatus, trigger: Trigger) -> ExpenseStatus:
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise InvalidTransition(current, trigger) from None


def can_apply(current: ExpenseStatus, trigger: Trigger) -> bool:
    return (current, trigger) in TRANSITIONS
