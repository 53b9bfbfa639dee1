"""`codatdesk push` on a team desktop: a colleague's login holds no Codat key, so the command queues push
requests (the window's path) and the team's server sends them."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import make_url
from sqlmodel import Session, select

from codatdesk.engine.headless import push_command
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import PushRequest
from codatdesk.team import requests, roles, store_url
from codatdesk.team.push_command import is_team_desktop
from tests.conftest import wait_until
from tests.engine_harness import expenses, row, started

LOGIN = "cli_desktop"


@pytest.fixture
def desktop_url(pg_url, monkeypatch):
    monkeypatch.delenv("CODATDESK_DATABASE_URL", raising=False)
    url = make_url(pg_url).set(username=LOGIN).render_as_string(hide_password=False)
    store_url.use_database(url)
    yield url
    store_url.use_database(None)


def test_push_on_a_team_desktop_queues_requests_for_the_server(tmp_path, pg_url, desktop_url, memory_keyring,
                                                               capsys):
    with started(tmp_path, push_delay=0.05, seed=1) as h:
        h.database_url = pg_url
        server = h.start_core()
        roles.apply_grants(server.db)
        roles.create_desktop_login(server.db, LOGIN)
        h.import_rows([row(i) for i in range(1, 4)])
        ids = [e.id for e in expenses(server)]
        assert not is_team_desktop(server.db), "the owner's role is the server"

        code = push_command(ids=ids, all_ready=False, retry_failed=False, wait=False, wait_timeout=5)

        out = capsys.readouterr().out
        assert code == 0 and "push: 3 asked of the team's server, 0 not asked" in out, out
        assert {S(e.status) for e in expenses(server)} == {S.QUEUED}
        assert h.sandbox.push_operations == {}, "the desktop sent nothing itself"
        with Session(server.db) as session:
            assert [r.state for r in session.exec(select(PushRequest))] == ["queued"] * 3

        assert requests.RequestServer(server.db, server.pusher, server_id="s", is_leader=lambda: True).run_once() == 3
        wait_until(lambda: {S(e.status) for e in expenses(server)} == {S.COMPLETE}, 20, message="the server sent them")
        assert Counter(op["dataType"] for op in h.sandbox.push_operations.values()) == {"directCosts": 3}

