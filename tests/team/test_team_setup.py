"""`team init` and `team invite` on a real PostgreSQL, and the schema-version rules between server and desktops."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.exc import ProgrammingError

from codatdesk.settings import Settings
from codatdesk.store.db import alembic_config, make_engine, migrate, session_scope
from codatdesk.team import roles, store_url
from codatdesk.team.schema import SchemaBehind, head_revision, open_store
from codatdesk.team.setup import init_team_database, invite_text
from codatdesk.version import DataFromNewerVersion


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("CODATDESK_DATABASE_URL", raising=False)
    store_url.use_database(None)
    yield
    store_url.use_database(None)


def as_login(url: str, name: str) -> str:
    return make_url(url).set(username=name).render_as_string(hide_password=False)


def revision_of(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("select version_num from alembic_version")).scalar()


def test_init_migrates_sets_up_roles_and_remembers_the_url(pg_url):
    report = init_team_database(pg_url)
    assert report.revision == head_revision() and report.grants_applied, report
    assert Settings().get("database.url") == make_url(pg_url).render_as_string(hide_password=False)
    assert "is ready" in "\n".join(report.lines())
    engine = open_store(upgrades=False)  # this computer now opens the team database
    try:
        assert revision_of(engine) == head_revision()
    finally:
        engine.dispose()


def test_invite_prints_a_login_a_desktop_can_use_and_nothing_of_the_server(pg_url, memory_keyring):
    init_team_database(pg_url)
    text_ = invite_text("anna")
    assert "postgresql://anna@" in text_ and "Password:" in text_
    password = text_.split("Password:")[1].split()[0]
    assert len(password) >= 24
    assert "codatdesk_test" in text_  # the database's name
    assert "api_key" not in text_ and "whsec" not in text_
    again = invite_text("anna")
    assert "unchanged" in again and password not in again

    desktop = make_engine(as_login(pg_url, "anna"))
    try:
        with desktop.begin() as conn:
            conn.execute(text("select count(*) from expense")).scalar()
            conn.execute(text("select count(*) from webhook_delivery")).scalar()
        with pytest.raises(ProgrammingError, match="permission denied"), desktop.begin() as conn:
            conn.execute(text("insert into webhook_delivery (delivery_id) values ('forged')"))
        with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"), desktop.begin() as conn:
            conn.execute(text("alter table expense add column sneaky integer"))
        store_url.use_database(as_login(pg_url, "anna"))
        engine = open_store(upgrades=False)  # the desktop works with the team database at its own version
        engine.dispose()
    finally:
        desktop.dispose()



def test_a_desktop_cannot_record_a_send_but_can_ask_for_one(pg_url, memory_keyring):
    """Only the server sends: a desktop's login may insert a push request, not a push attempt or operation."""
    import datetime as dt
    from decimal import Decimal

    from codatdesk.engine import edits
    from codatdesk.team.requests import request_push

    init_team_database(pg_url)
    invite_text("bea")
    owner = make_engine(pg_url)
    expense_id = edits.add_expense(owner, None, "c1", {
        "expense_date": dt.date(2026, 11, 1), "supplier_name": "Acme", "account_code": "429",
        "bank_account_code": "090", "net": Decimal("10.00"), "tax": Decimal("2.00"), "total": Decimal("12.00"),
        "currency": "GBP"})
    desktop = make_engine(as_login(pg_url, "bea"))
    try:
        for table in ("push_attempt", "push_operation"):
            with pytest.raises(ProgrammingError, match="permission denied"), desktop.begin() as conn:
                conn.execute(text(f"insert into {table} (company_id) values ('c1')"))
        assert request_push(desktop, [expense_id], "bea").queued == [expense_id]
        with owner.connect() as conn:
            assert conn.execute(text("select state from push_request")).scalars().all() == ["queued"]
    finally:
        desktop.dispose()
        owner.dispose()

def test_invite_refuses_a_login_name_that_is_not_one(pg_url):
    init_team_database(pg_url)
    with pytest.raises(roles.RoleNameError, match="lower-case"):
        invite_text("Robert'); drop table expense;--")


def test_a_desktop_never_upgrades_a_team_database_the_server_does(pg_url):
    previous = ScriptDirectory.from_config(alembic_config(None)).get_revision(head_revision()).down_revision
    old = make_engine(pg_url)
    command.upgrade(alembic_config(old), previous)
    store_url.use_database(pg_url)
    with pytest.raises(SchemaBehind, match="Upgrade the team's server first"):
        open_store(upgrades=False)
    assert revision_of(old) == previous  # untouched
    server = open_store(upgrades=True)
    server.dispose()
    assert revision_of(old) == head_revision()
    open_store(upgrades=False).dispose()
    old.dispose()


def test_a_desktop_refuses_an_empty_or_a_newer_team_database(pg_url):
    store_url.use_database(pg_url)
    with pytest.raises(SchemaBehind, match="team init"):
        open_store(upgrades=False)
    engine = open_store(upgrades=True)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999_from_the_future'"))
    with pytest.raises(DataFromNewerVersion, match="Install the version the team's server runs"):
        open_store(upgrades=False)
    with pytest.raises(DataFromNewerVersion):
        open_store(upgrades=True)
    engine.dispose()


def test_two_servers_starting_at_once_upgrade_one_after_the_other(pg_url):
    """Two processes (failover pairs start together) both find the database empty; the advisory lock makes the
    second wait for the first's upgrade instead of creating the same tables at once."""
    from codatdesk.store.db import MIGRATION_LOCK_KEY
    from tests.conftest import wait_until

    holder = make_engine(pg_url)
    script = "import sys; from codatdesk.store.db import open_database; open_database(sys.argv[1]).dispose()"
    with holder.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        servers = [subprocess.Popen([sys.executable, "-c", script, pg_url], stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]

        def both_waiting() -> bool:
            with holder.connect() as probe:
                return probe.execute(text("select count(*) from pg_locks where locktype = 'advisory' "
                                          "and not granted")).scalar() == 2

        wait_until(both_waiting, timeout=60, message="both servers waiting for the upgrade lock")
    for server in servers:
        _, stderr = server.communicate(timeout=120)
        assert server.returncode == 0, stderr
    assert revision_of(holder) == head_revision()
    holder.dispose()


def test_relaxed_and_durable_writes_commit_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    migrate(engine)
    for durable in (True, False):
        with session_scope(engine, durable=durable) as session:
            setting = session.connection().exec_driver_sql("show synchronous_commit").scalar()
            assert setting == ("on" if durable else "off")
            name = session.connection().exec_driver_sql("select current_setting('application_name')").scalar()
            assert name == "codatdesk"
    engine.dispose()


def test_the_cli_sets_up_a_team_and_a_desktop_refuses_an_unreachable_one(pg_url, capsys):
    from codatdesk.cli import main

    assert main(["team", "init", pg_url]) == 0
    out = capsys.readouterr().out
    assert "is ready" in out and "team invite" in out
    assert main(["team", "invite", "bob"]) == 0
    assert "postgresql://bob@" in capsys.readouterr().out
    assert main(["list"]) == 0  # the configured team database, at its version
    unreachable = make_url(pg_url).set(port=1).render_as_string(hide_password=False)
    assert main(["list", "--database", unreachable]) == 2
    err = capsys.readouterr().err
    assert "cannot open the team database" in err and "database_password" in err


def test_every_time_keeps_its_zone_on_postgresql(pg_url):
    """0004 and 0006 made three columns naive; PostgreSQL would shift an aware time by the session's offset."""
    from codatdesk.store.db import open_database

    engine = open_database(pg_url)
    try:
        with engine.connect() as conn:
            kinds = dict(conn.execute(text(
                "select table_name || '.' || column_name, data_type from information_schema.columns "
                "where table_schema = 'public' and data_type like 'timestamp%'")).all())
            assert conn.exec_driver_sql("show timezone").scalar() == "UTC"
    finally:
        engine.dispose()
    assert kinds and set(kinds.values()) == {"timestamp with time zone"}, kinds
