"""``codatdesk push`` on a team desktop: the same request path as the window (TeamDesktopCore.push),
so it needs no Codat key; the team's server claims and sends. With waiting, it watches the shared
database for the server's results (it cannot ask Codat itself)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codatdesk.engine.pusher import PushProblem
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.models import Expense

# Still on its way: asked of the server, sent, or waiting for Codat's answer.
_ON_ITS_WAY = (ExpenseStatus.QUEUED, ExpenseStatus.IN_PROGRESS, ExpenseStatus.WAITING)


def is_team_desktop(db: Engine) -> bool:
    """A shared PostgreSQL opened by a role that does not own the tables (a colleague's login, see
    team/roles.py). The owner is the server's role: there ``codatdesk push`` sends itself."""
    if db.dialect.name != "postgresql":
        return False
    with db.connect() as conn:
        owns = conn.execute(text(
            "SELECT pg_has_role(current_user, tableowner, 'MEMBER') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename = 'expense'")).scalar()
    return not owns


def request_pushes(settings: Settings, db: Engine, chosen: list[int], missing: list[PushProblem], *,
                   again_anyway: bool, wait: bool, wait_timeout: float,
                   report: Callable[[list[PushProblem]], None]) -> int:
    """Queue ``chosen`` for the team's server; exit codes as ``codatdesk push`` documents them."""
    from codatdesk.team.desktop import TeamDesktopCore

    core = TeamDesktopCore(settings, db)
    try:
        batch = core.push_again_anyway(chosen) if again_anyway else core.push(chosen)
    finally:
        core.pusher.shutdown()
    not_pushed = missing + batch.problems
    blocked = {p.expense_id for p in not_pushed}
    asked = [i for i in chosen if i not in blocked]
    print(f"push: {len(asked)} asked of the team's server, {len(blocked)} not asked", flush=True)
    report(not_pushed)
    if not wait or not asked:
        return 1 if not_pushed else 0
    code = _wait_for_the_server(db, asked, wait_timeout)
    return code if code or not not_pushed else 1


def _wait_for_the_server(db: Engine, ids: list[int], timeout: float) -> int:
    print("waiting for the team's server to send them and for Codat's answers", flush=True)
    deadline = time.monotonic() + timeout
    while True:
        with Session(db) as session:
            rows = list(session.exec(select(Expense).where(col(Expense.id).in_(ids)).order_by(col(Expense.id))))
        busy = [e for e in rows if ExpenseStatus(e.status) in _ON_ITS_WAY]
        if not busy or time.monotonic() >= deadline:
            break
        time.sleep(0.5)  # polling the database; a CLI run has no change feed of its own
    for e in rows:
        print(f"{e.id:>5}  {e.status.value:17}  {e.supplier_name[:24]:24}  {e.status_detail[:80]}")
    if busy:
        print(f"{len(busy)} expense(s) still on their way after {timeout:.0f} s: is the team's server "
              "(codatdesk serve) running?", file=sys.stderr)
        return 3
    failed = [e for e in rows if ExpenseStatus(e.status) in (ExpenseStatus.FAILED, ExpenseStatus.OUTCOME_UNKNOWN)]
    refused = [e for e in rows if ExpenseStatus(e.status) is ExpenseStatus.NOT_PUSHED]
    return 1 if failed or refused else 0
