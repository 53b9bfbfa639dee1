"""The state machines: every table is total, and each move it does not hold is refused."""

from __future__ import annotations

import itertools

import pytest

from codatdesk import machines
from codatdesk.machines import (
    ATTEMPT,
    CONNECTION,
    DELIVERY,
    OPERATION,
    IllegalTransition,
    OperationStatus,
    connection_is_down,
    set_operation_status,
    set_verdict,
)
from codatdesk.states import TRANSITIONS, ExpenseStatus, InvalidTransition, Trigger, next_status

MACHINES = [OPERATION, ATTEMPT, DELIVERY, CONNECTION]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_state_has_an_entry_and_every_target_is_a_state(machine):
    assert set(machine.moves) == set(machine.states)
    for targets in machine.moves.values():
        assert targets <= set(machine.states)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_move_not_in_the_table_is_refused(machine):
    for current, new in itertools.product(machine.states, repeat=2):
        if new in machine.moves[current]:
            assert machine.check(current, new) is new
        else:
            with pytest.raises(IllegalTransition):
                machine.check(current, new)


def test_expense_table_refuses_every_pair_it_does_not_hold():
    for status, trigger in itertools.product(ExpenseStatus, Trigger):
        if (status, trigger) in TRANSITIONS:
            assert next_status(status, trigger) in ExpenseStatus
        else:
            with pytest.raises(InvalidTransition):
                next_status(status, trigger)


class Row:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def test_a_late_success_after_timed_out_wins_and_nothing_leaves_a_final_operation():
    op = Row(status="TimedOut")
    assert set_operation_status(op, "Success") is OperationStatus.SUCCESS and op.status == "Success"
    for final in ("Success", "Failed"):
        for new in OperationStatus:
            with pytest.raises(IllegalTransition):
                set_operation_status(Row(status=final), new)
    with pytest.raises(IllegalTransition):
        set_operation_status(Row(status="TimedOut"), "Failed")


def test_an_applied_delivery_keeps_its_verdict_and_dropped_is_a_verdict():
    row = Row(verdict="pending", verdict_detail="")
    set_verdict(row, "dropped", "not served")
    assert (row.verdict, row.verdict_detail) == ("dropped", "not served")
    with pytest.raises(IllegalTransition):
        set_verdict(row, "applied")


def test_deleted_is_the_end_of_a_connection_and_down_means_anything_but_linked():
    assert not CONNECTION.allows("Deleted", "Linked")
    assert [s for s in machines.ConnectionStatus if connection_is_down(s)] == [
        "PendingAuth", "Unlinked", "Deauthorized", "Deleted"]
    assert not any(connection_is_down(s) for s in ("not chosen", "", "not checked yet", "unknown (timeout)"))
