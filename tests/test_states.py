import pytest

from codatdesk.states import TRANSITIONS, ExpenseStatus, InvalidTransition, Trigger, can_apply, next_status

S, T = ExpenseStatus, Trigger


def test_happy_path_and_dependent_path():
    assert next_status(S.NOT_PUSHED, T.PUSH_SENT) is S.IN_PROGRESS
    assert next_status(S.IN_PROGRESS, T.RESULT_SUCCESS) is S.COMPLETE
    assert next_status(S.NOT_PUSHED, T.WAIT_FOR_PREREQUISITE) is S.WAITING
    assert next_status(S.WAITING, T.PUSH_SENT) is S.IN_PROGRESS
    assert next_status(S.WAITING, T.PREREQUISITE_FAILED) is S.FAILED


@pytest.mark.parametrize("final", [S.FAILED, S.TIMED_OUT])
def test_failed_and_timed_out_can_be_retried(final):
    assert next_status(final, T.PUSH_SENT) is S.IN_PROGRESS


def test_complete_is_final_for_every_trigger():
    for trigger in Trigger:
        with pytest.raises(InvalidTransition):
            next_status(S.COMPLETE, trigger)


def test_results_only_apply_to_an_operation_in_progress_except_late_success():
    for status in S:
        for trigger in (T.RESULT_FAILED, T.RESULT_TIMED_OUT):
            assert can_apply(status, trigger) == (status is S.IN_PROGRESS)
    assert can_apply(S.TIMED_OUT, T.RESULT_SUCCESS)  # Codat: a timed-out write may still land
    assert not can_apply(S.FAILED, T.RESULT_SUCCESS)


def test_every_target_is_a_status_and_no_transition_leaves_complete():
    assert all(isinstance(to, ExpenseStatus) for to in TRANSITIONS.values())
    assert not [key for key in TRANSITIONS if key[0] is S.COMPLETE]


@pytest.mark.parametrize("text,expected", [("Push failed", S.FAILED), ("push-failed", S.FAILED),
                                           ("FAILED", S.FAILED), ("in progress", S.IN_PROGRESS),
                                           ("not_pushed", S.NOT_PUSHED), ("Timed out", S.TIMED_OUT)])
def test_parse_status(text, expected):
    assert ExpenseStatus.parse(text) is expected


def test_parse_unknown_status_lists_the_choices():
    with pytest.raises(ValueError, match="Push complete"):
        ExpenseStatus.parse("green")
