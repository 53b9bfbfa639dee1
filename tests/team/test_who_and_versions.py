"""Who did what (the actor on every status change and edit), and two people saving one row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from codatdesk.engine import edits
from codatdesk.engine.edits import EditConflict
from codatdesk.engine.read_models import expense_values
from codatdesk.store.actor import actor_of, os_user, set_actor
from codatdesk.store.db import open_database
from codatdesk.store.models import StatusChange
from codatdesk.team import requests
from codatdesk.team.who import pushed_by

VALUES = {"expense_date": dt.date(2026, 11, 1), "supplier_name": "Acme", "account_code": "429",
          "bank_account_code": "090", "net": Decimal("10.00"), "tax": Decimal("2.00"), "total": Decimal("12.00"),
          "currency": "GBP"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        engine = open_database(f"sqlite:///{tmp_path / 'who.sqlite3'}")
    else:
        engine = open_database(request.getfixturevalue("pg_url"))
    yield engine
    engine.dispose()


def test_the_actor_is_the_database_role_in_team_mode_and_the_os_user_alone(store):
    if store.dialect.name == "postgresql":
        with store.connect() as conn:
            assert actor_of(store) == conn.execute(text("SELECT current_user")).scalar_one()
    else:
        assert actor_of(store) == os_user()


def test_every_status_change_and_edit_names_who(store):
    expense_id = edits.add_expense(store, None, "c1", VALUES)
    set_actor(store, "alice")
    requests.request_push(store, [expense_id], "alice")
    with Session(store) as session:
        change = session.exec(select(StatusChange).where(StatusChange.expense_id == expense_id)).one()
    assert change.actor == "alice"
    assert pushed_by(store, "alice") == {expense_id} and pushed_by(store, "bob") == set()

    other = edits.add_expense(store, None, "c1", VALUES)
    set_actor(store, "bob")
    edits.update_expense(store, None, other, {"description": "taxi"})
    assert expense_values(store, other).updated_by == "bob"


def test_a_stale_save_is_refused_with_both_versions(store):
    expense_id = edits.add_expense(store, None, "c1", VALUES)
    seen = expense_values(store, expense_id)
    edits.update_expense(store, None, expense_id, {"description": "first save"}, expected_version=seen.version)
    after_first = expense_values(store, expense_id)
    assert after_first.version > seen.version

    with pytest.raises(EditConflict) as conflict:
        edits.update_expense(store, None, expense_id, {"description": "second save"}, expected_version=seen.version)

    assert conflict.value.mine == {"description": "second save"}
    assert conflict.value.theirs["description"] == "first save"
    assert conflict.value.their_version == after_first.version
    assert expense_values(store, expense_id).description == "first save", "nothing was overwritten"
    # Saving again over the version now shown works.
    edits.update_expense(store, None, expense_id, {"description": "merged"}, expected_version=after_first.version)
    assert expense_values(store, expense_id).description == "merged"


def test_every_write_bumps_the_version(store):
    expense_id = edits.add_expense(store, None, "c1", VALUES)
    before = expense_values(store, expense_id).version
    requests.request_push(store, [expense_id], "alice")  # a status change, not an edit
    assert expense_values(store, expense_id).version == before + 1


def test_codats_reasons_arriving_while_someone_edits_are_no_conflict(store):
    """The engine's notes on a row (the status' explanation, Codat's ids) do not bump the version: the person
    editing the failed row while its reasons arrive saves without a conflict. Their fields and the status do."""
    from codatdesk.states import Trigger
    from codatdesk.store.db import session_scope
    from codatdesk.store.history import Cause, change_status
    from codatdesk.store.models import Expense
    expense_id = edits.add_expense(store, None, "c1", VALUES)
    with session_scope(store) as session:
        expense = session.get(Expense, expense_id)
        change_status(session, expense, Trigger.PUSH_SENT, Cause.engine(), push_operation_key="k1")
        change_status(session, expense, Trigger.RESULT_FAILED, Cause.webhook("m1"), detail="fetching reasons")
    seen = expense_values(store, expense_id)
    with session_scope(store) as session:  # the reasons arrive
        expense = session.get(Expense, expense_id)
        expense.status_detail = "Codat rejected this expense: the bank account is archived"
        expense.bank_account_id = "bank-1"
        session.add(expense)
    assert expense_values(store, expense_id).version == seen.version
    edits.update_expense(store, None, expense_id, {"bank_account_code": "091"}, expected_version=seen.version)
    assert expense_values(store, expense_id).bank_account_code == "091"

