"""The push takes the explain dialog's check back when nothing was written since; after a write it checks again."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.store.models import Expense
from tests.engine_harness import row, started


def counting_checks(core) -> list[list[int]]:
    calls: list[list[int]] = []
    check = core.pusher.check

    def counted(expense_ids, **kwargs):
        calls.append(list(expense_ids))
        return check(expense_ids, **kwargs)

    core.pusher.check = counted
    return calls


def test_a_push_right_after_its_check_is_not_checked_twice_but_one_after_a_change_is(tmp_path):
    with started(tmp_path, push_delay=0.05) as h:
        core = h.start_core(listen=False)
        assert core.reconciler.wait_for_run(0, 30)  # the start's own writes are over
        h.import_rows([row(1), row(2), row(3)])
        with Session(core.db) as session:
            first, second, third = session.exec(select(Expense.id).order_by(Expense.id)).all()
        checked = core.check_push([first, second])
        assert checked.problems == ()
        calls = counting_checks(core)
        batch = core.push([first, second], checked=checked)
        assert batch.wait(30) and batch.sent == 2
        assert calls == []  # the dialog's answer was taken (no second check, no second GET of the connection)

        checked = core.check_push([third])
        core.set_mapping(h.company_id, "supplier", "Someone new", None)  # a write since the check
        calls.clear()
        batch = core.push([third], checked=checked)
        assert batch.wait(30)
        assert calls == [[third]]  # something changed: the push checked again
