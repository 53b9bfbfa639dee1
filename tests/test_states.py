import pytest

from codatdesk.states import (
    TRANSITIONS,
    ExpenseStatus,
    InvalidTransition,
    Trigger,
    can_apply,
    next_status,
    sending_trigger,
)

S, T = ExpenseStatus, Trigger


def test_happy_path_and_dependent_path():
    assert next_status(S.NOT_PUSHED, T.PUSH_SENT) is S.IN_PROGRESS
    assert next_status(S.IN_PROGRESS, T.RESULT_SUCCESS) is S.COMPLETE
    assert next_status(S.NOT_PUSHED, T.WAIT_FOR_PREREQUISITE) is S.WAITING
    assert next_status(S.WAITING, T.PUSH_SENT) is S.IN_PROGRESS
    assert next_status(S.WAITING, T.PREREQUISITE_FAILED) is S.FAILED


def test_failed_can_be_retried_and_reset():
    assert next_status(S.FAILED, T.PUSH_SENT) is S.IN_PROGRESS
    assert next_status(S.FAILED, T.RESET) is S.NOT_PUSHED
    assert S.FAILED.can_push


def test_an_outcome_unknown_row_is_never_sent_again_by_an_ordinary_push_or_reset():
    """Codat: a TimedOut push may still land in the ledger; sending it again could write it twice."""
    assert next_status(S.IN_PROGRESS, T.RESULT_TIMED_OUT) is S.OUTCOME_UNKNOWN
    assert not S.OUTCOME_UNKNOWN.can_push
    for trigger in (T.PUSH_SENT, T.WAIT_FOR_PREREQUISITE, T.RESET):
        with pytest.raises(InvalidTransition):
            next_status(S.OUTCOME_UNKNOWN, trigger)
    # Only an explicit "push again anyway", recorded as such, sends it again.
    assert next_status(S.OUTCOME_UNKNOWN, T.PUSH_SENT_ANYWAY) is S.IN_PROGRESS
    assert next_status(S.OUTCOME_UNKNOWN, T.WAIT_FOR_PREREQUISITE_ANYWAY) is S.WAITING
    assert sending_trigger(S.OUTCOME_UNKNOWN, T.PUSH_SENT) is T.PUSH_SENT_ANYWAY
    assert sending_trigger(S.FAILED, T.PUSH_SENT) is T.PUSH_SENT


def test_the_anyway_triggers_apply_to_nothing_but_an_outcome_unknown_row():
    for status in S:
        for trigger in (T.PUSH_SENT_ANYWAY, T.WAIT_FOR_PREREQUISITE_ANYWAY):
            assert can_apply(status, trigger) == (status is S.OUTCOME_UNKNOWN)


def test_complete_is_final_for_every_trigger_but_an_update_of_the_ledger():
    # The one way out of Push complete: the user sent an edit to the ledger as Codat's update (Expenses route).
    for trigger in Trigger:
        if trigger is T.UPDATE_SENT:
            assert next_status(S.COMPLETE, trigger) is S.IN_PROGRESS
            continue
        with pytest.raises(InvalidTransition):
            next_status(S.COMPLETE, trigger)


def test_results_only_apply_to_an_operation_in_progress_except_late_success():
    for status in S:
        for trigger in (T.RESULT_FAILED, T.RESULT_TIMED_OUT):
            assert can_apply(status, trigger) == (status is S.IN_PROGRESS)
    assert can_apply(S.OUTCOME_UNKNOWN, T.RESULT_SUCCESS)  # Codat: a timed-out write may still land
    assert not can_apply(S.FAILED, T.RESULT_SUCCESS)


def test_every_target_is_a_status_and_only_an_update_leaves_complete():
    assert all(isinstance(to, ExpenseStatus) for to in TRANSITIONS.values())
    assert [key for key in TRANSITIONS if key[0] is S.COMPLETE] == [(S.COMPLETE, T.UPDATE_SENT)]


@pytest.mark.parametrize("text,expected", [("Push failed", S.FAILED), ("push-failed", S.FAILED),
                                           ("FAILED", S.FAILED), ("in progress", S.IN_PROGRESS),
                                           ("not_pushed", S.NOT_PUSHED), ("Outcome unknown", S.OUTCOME_UNKNOWN),
                                           ("outcome-unknown", S.OUTCOME_UNKNOWN), ("unknown", S.OUTCOME_UNKNOWN),
                                           # the old spelling, for scripts
                                           ("Timed out", S.OUTCOME_UNKNOWN), ("timedout", S.OUTCOME_UNKNOWN),
                                           ("timed-out", S.OUTCOME_UNKNOWN), ("TIMED_OUT", S.OUTCOME_UNKNOWN)])
def test_parse_status(text, expected):
    assert ExpenseStatus.parse(text) is expected


def test_parse_unknown_status_lists_the_choices():
    with pytest.raises(ValueError, match="Push complete"):
        ExpenseStatus.parse("green")


def test_every_trigger_and_status_fits_its_history_column():
    """status_change.trigger is VARCHAR(40) and the status columns VARCHAR(20): PostgreSQL enforces both."""
    from codatdesk.states import ExpenseStatus, Trigger

    assert max(len(t.value) for t in Trigger) <= 40
    assert max(len(s.value) for s in ExpenseStatus) <= 20
