"""Upgrades: a database made by every earlier schema version migrates to the current one intact.

For each revision R (found in the migrations directory, so a new migration is covered
without touching this file): create a database at R with ``command.upgrade(cfg, R)``,
fill it with representative rows (hand-written ones from the newest revision at or
before R that has a filler, including exact Decimal money, then generic rows for every
table and column of R found by reflection), upgrade to head, and check every row.
Also: one linear forward path (no branches, nothing needs a downgrade), upgrading step
by step equals upgrading at once, and the models match the migrations (autogenerate
finds no drift).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, LargeBinary, MetaData, String, Text, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from codatdesk.store import models
from codatdesk.store.db import alembic_config, make_engine, migrate
from tests.store_kind import empty_database_url

pytestmark = pytest.mark.reliability


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(None))  # type: ignore[arg-type]


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return [rev.revision for rev in reversed(list(script().walk_revisions()))]


def engine_at(path: Path, revision: str | None) -> Engine:
    """A database at ``revision``: a SQLite file at ``path``, or under --store=postgresql an empty PostgreSQL
    database migrated to it (tests/store_kind.py), so every upgrade is also proven on PostgreSQL."""
    engine = make_engine(empty_database_url(path))
    if revision is not None:
        command.upgrade(alembic_config(engine), revision)
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --- hand-written rows, as of a revision (raw SQL: the models move on, these must not) ------

def fill_0001(engine: Engine) -> Callable[[Session], None]:
    """Representative rows of revision 0001; returns a check that reads them back through today's models."""
    at = "2026-11-28 10:00:00.123456"
    body = b'{"eventType": "directCosts.write.successful"}\x00\xff\xfe raw bytes'
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO company (id, name, connection_id, created_at) VALUES "
                          "('co-1', 'Caf\u00e9 \u00dcml\u00e4ut & \"Co\" \U0001F4B8', 'conn-1', :at)"), {"at": at})
        conn.execute(text("INSERT INTO connection (id, company_id, platform_name, integration_key, status, link_url, "
                          "errors_json, last_event_at, checked_at, updated_at) VALUES ('conn-1', 'co-1', 'Xero', "
                          "'gbol', 'Linked', 'https://link.example/x?y=1', '[{\"message\": \"x\"}]', :at, NULL, :at)"),
                     {"at": at})
        money = [  # (net, tax, total) as stored: scaled integers of 1/10,000
            (12345678901, 1, 12345678902),  # 1234567.8901 + 0.0001
            (-125000, 0, -125000),  # -12.50
            (99999999999999, 0, 99999999999999),  # 9,999,999,999.9999
            (450000, 90000, 540000),  # 45.00 + 9.00
        ]
        statuses = ["Push complete", "Push failed", "Timed out", "Waiting"]
        for n, ((net, tax, total), status) in enumerate(zip(money, statuses), start=1):
            conn.execute(text(
                "INSERT INTO expense (id, company_id, expense_date, supplier_name, supplier_id, description, "
                "account_code, account_name, account_id, bank_account_code, bank_account_id, tax_code, tax_rate_id, "
                "net, tax, total, currency, reference, status, push_operation_key, waiting_on_key, status_detail, "
                "source_key, created_at, updated_at) VALUES (:id, 'co-1', '2026-02-28', :supplier, NULL, :description, "
                "'429', 'General Expenses', 'acc-1', '090', NULL, 'INPUT2', NULL, :net, :tax, :total, :currency, "
                ":reference, :status, :key, :waiting, :detail, :source, :at, :at)"),
                {"id": n, "supplier": f"Supplier \u2116{n} '\"", "description": "line 1\nline 2\t\u00e9",
                 "net": net, "tax": tax, "total": total, "currency": "GBP" if n != 3 else "JPY",
                 "reference": f"REF-{n}", "status": status, "key": f"key-{n}" if status != "Waiting" else None,
                 "waiting": "key-acc" if status == "Waiting" else None, "detail": f"detail {n}",
                 "source": f"src-{n}", "at": at})
        for n, status in enumerate(["Success", "Failed", "TimedOut"], start=1):
            conn.execute(text(
                "INSERT INTO push_operation (key, company_id, connection_id, data_type, expense_id, creates_code, "
                "status, requested_at, completed_at, record_id, status_code, error_message, validation_errors_json, "
                "validation_warnings_json, last_checked_at) VALUES (:key, 'co-1', 'conn-1', 'directCosts', :id, NULL, "
                ":status, :at, :at, 'rec', 200, NULL, '[]', '[]', NULL)"), {"key": f"key-{n}", "id": n,
                                                                             "status": status, "at": at})
        conn.execute(text(
            "INSERT INTO push_operation (key, company_id, connection_id, data_type, expense_id, creates_code, status, "
            "requested_at) VALUES ('key-acc', 'co-1', 'conn-1', 'chartOfAccounts', NULL, '777', 'Pending', :at)"),
            {"at": at})
        conn.execute(text(
            "INSERT INTO push_attempt (id, company_id, data_type, expense_id, creates_code, started_at, finished_at, "
            "outcome, push_operation_key, detail) VALUES (1, 'co-1', 'directCosts', 1, NULL, :at, :at, 'sent', "
            "'key-1', '')"), {"at": at})
        conn.execute(text(
            "INSERT INTO webhook_delivery (id, delivery_id, received_at, event_type, headers_json, body, verdict, "
            "verdict_detail, applied_at, times_received, company_id, push_operation_key, expense_id) VALUES "
            "(1, 'msg_1', :at, 'directCosts.write.successful', '{\"webhook-id\": \"msg_1\"}', :body, 'applied', '', "
            ":at, 3, 'co-1', 'key-1', 1)"), {"at": at, "body": body})
        conn.execute(text(
            "INSERT INTO status_change (id, expense_id, from_status, to_status, at, trigger, cause_kind, cause_ref, "
            "detail) VALUES (1, 1, 'Push in progress', 'Push complete', :at, 'Success', 'webhook', 'msg_1', '')"),
            {"at": at})
        conn.execute(text(
            "INSERT INTO status_change (id, expense_id, from_status, to_status, at, trigger, cause_kind, cause_ref, "
            "detail) VALUES (2, 3, 'Push in progress', 'Timed out', :at, 'TimedOut', 'webhook', 'msg_3', '')"),
            {"at": at})
        conn.execute(text(
            "INSERT INTO reference_record (id, company_id, data_type, codat_id, code, name, extra_json, fetched_at) "
            "VALUES (1, 'co-1', 'accounts', 'acc-1', '429', 'General Expenses', '{\"currency\": \"GBP\"}', :at)"),
            {"at": at})
        conn.execute(text(
            "INSERT INTO mapping (id, company_id, kind, local_value, codat_id, updated_at) VALUES "
            "(1, 'co-1', 'account', '777', 'acc-777', :at)"), {"at": at})

    def check(session: Session) -> None:
        expected = {1: ("1234567.8901", "0.0001", "1234567.8902"), 2: ("-12.50", "0", "-12.50"),
                    3: ("9999999999.9999", "0", "9999999999.9999"), 4: ("45.00", "9.00", "54.00")}
        for expense_id, (net, tax, total) in expected.items():
            expense = session.get(models.Expense, expense_id)
            assert (expense.net, expense.tax, expense.total) == (Decimal(net), Decimal(tax), Decimal(total))
            assert all(isinstance(v, Decimal) for v in (expense.net, expense.tax, expense.total))
            assert expense.net + expense.tax == expense.total
        assert session.get(models.Expense, 1).status.value == "Push complete"
        assert session.get(models.Expense, 3).status is models.ExpenseStatus.OUTCOME_UNKNOWN  # "Timed out" (0002)
        assert session.get(models.Expense, 4).waiting_on_key == "key-acc"
        assert session.get(models.Expense, 1).description == "line 1\nline 2\t\u00e9"
        assert session.get(models.Company, "co-1").name == 'Caf\u00e9 \u00dcml\u00e4ut & "Co" \U0001F4B8'
        assert session.get(models.WebhookDelivery, 1).body == body
        assert session.get(models.WebhookDelivery, 1).times_received == 3
        assert session.get(models.PushOperation, "key-acc").creates_code == "777"
        assert session.get(models.PushAttempt, 1).outcome == "sent"
        assert session.get(models.StatusChange, 1).cause_ref == "msg_1"
        assert session.get(models.StatusChange, 2).to_status == "Outcome unknown"
        assert session.get(models.Connection, "conn-1").last_event_at == dt.datetime(
            2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC)

    return check


# A new migration adds its own filler here when its tables or columns change meaning.
FILLERS: dict[str, Callable[[Engine], Callable[[Session], None]]] = {"0001": fill_0001}
# A migration that changes stored values names how: revision -> (table, old row) -> expected row at head.
def outcome_unknown_0002(table: str, row: dict) -> dict:
    """0002: the stored status "Timed out" is "Outcome unknown", in expenses and their history."""
    columns = {"expense": ("status",), "status_change": ("from_status", "to_status")}.get(table, ())
    return {k: ("Outcome unknown" if k in columns and v == "Timed out" else v) for k, v in row.items()}


TRANSFORMS: dict[str, Callable[[str, dict], dict]] = {"0002_outcome_unknown": outcome_unknown_0002}


# --- generic rows for every table and column of a revision (reflection) -------------------

def sample(column, n: int, table: str):
    kind = column.type
    if isinstance(kind, Boolean):
        return n % 2 == 1
    if isinstance(kind, LargeBinary):
        return b"\x00\xff" + f"{table}.{column.name}.{n}".encode()
    if isinstance(kind, DateTime):
        return dt.datetime(2025, 12, 31, 23, 59, n, 999999)  # noqa: DTZ001 - the store keeps naive UTC
    if isinstance(kind, Date):
        return dt.date(2024, 2, 29)
    if isinstance(kind, BigInteger):
        return -(10**15) - n if n % 2 else 10**15 + n  # e.g. money as scaled integers, both signs
    if isinstance(kind, Integer):
        return 2_000_000_000 + n
    if isinstance(kind, Text):
        return f"generic {table}.{column.name} #{n}\n\u00e9\U0001F600 '\"\\"
    if isinstance(kind, String):
        value = f"g{n}-{table}.{column.name}-\u00e9'\""
        return value[-kind.length:] if kind.length else value
    raise AssertionError(f"no sample value for {table}.{column.name} of type {kind!r}: teach sample() this type")


def fill_generic(engine: Engine) -> dict[str, list[dict]]:
    """Three more rows in every table of the current revision; returns every row of every table."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            if conn.dialect.name == "postgresql" and "id" in table.c and table.c.id.autoincrement:
                # The hand-written rows gave their ids; PostgreSQL's sequence does not see them (SQLite's rowid does).
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                  f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
            for n in range(3):
                values = {}
                for column in table.columns:
                    if column.primary_key and isinstance(column.type, Integer) and len(table.primary_key.columns) == 1:
                        continue  # the database numbers it
                    foreign = next(iter(column.foreign_keys), None)
                    if foreign is not None:
                        parent = conn.execute(select(foreign.column).order_by(foreign.column).limit(1)
                                              .offset(n)).scalar_one()
                        values[column.name] = parent
                    elif column.nullable and n == 0:
                        values[column.name] = None
                    else:
                        values[column.name] = sample(column, n, table.name)
                conn.execute(table.insert().values(**values))
        return {table.name: [dict(row._mapping) for row in conn.execute(select(table))]
                for table in metadata.sorted_tables if table.name != "alembic_version"}


def all_rows(engine: Engine) -> dict[str, dict[tuple, dict]]:
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {table.name: {tuple(row._mapping[c.name] for c in table.primary_key.columns): dict(row._mapping)
                             for row in conn.execute(select(table))}
                for table in metadata.sorted_tables if table.name != "alembic_version"}


def as_utc(value):
    """A naive time is UTC (what codatdesk writes): 0007 turns three naive PostgreSQL columns into aware ones."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def primary_keys(engine: Engine) -> dict[str, list[str]]:
    metadata = MetaData()
    metadata.reflect(engine)
    return {t.name: [c.name for c in t.primary_key.columns] for t in metadata.sorted_tables}


REVISIONS = revisions()


def test_one_linear_forward_path():
    directory = script()
    assert len(directory.get_heads()) == 1, "more than one head: merge the branches"
    for revision in directory.walk_revisions():
        down = revision.down_revision
        assert down is None or isinstance(down, str), f"{revision.revision} merges branches"
    assert REVISIONS[0] == directory.get_base() and REVISIONS[-1] == directory.get_current_head()
    assert len(set(REVISIONS)) == len(REVISIONS)


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_database_at_each_revision_upgrades_to_head_with_every_row_intact(tmp_path, revision):
    head = script().get_current_head()
    path = tmp_path / f"at-{revision}.sqlite3"
    filler = max((r for r in FILLERS if REVISIONS.index(r) <= REVISIONS.index(revision)), key=REVISIONS.index)
    engine = engine_at(path, filler)
    check = FILLERS[filler](engine)
    command.upgrade(alembic_config(engine), revision)
    before = fill_generic(engine)
    keys = primary_keys(engine)

    migrate(engine)  # what the app runs on every start
    assert current_revision(engine) == head
    after = all_rows(engine)
    for table, rows in before.items():
        for old in rows:
            for later in REVISIONS[REVISIONS.index(revision) + 1:]:
                if later in TRANSFORMS:
                    old = TRANSFORMS[later](table, old)
            key = tuple(old[name] for name in keys[table])
            assert key in after.get(table, {}), f"{table} row {key} is gone after upgrading from {revision}"
            new = after[table][key]
            changed = {k: (v, new.get(k)) for k, v in old.items() if k in new and as_utc(new[k]) != as_utc(v)}
            assert not changed, f"{table} row {key} changed: {changed}"
    with Session(engine) as session:
        check(session)
    migrate(engine)  # again: nothing to do, nothing changes
    assert all_rows(engine) == after
    engine.dispose()


def test_step_by_step_equals_at_once(tmp_path):
    stepwise = engine_at(tmp_path / "steps.sqlite3", None)
    for revision in REVISIONS:
        command.upgrade(alembic_config(stepwise), revision)
    direct = engine_at(tmp_path / "direct.sqlite3", "head")

    def schema(engine: Engine) -> list[tuple]:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                return sorted(conn.execute(text(
                    "SELECT table_name, column_name, data_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = 'public'")).all()) + sorted(conn.execute(
                    text("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")).all())
            return sorted(conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master")).all())

    assert schema(stepwise) == schema(direct)
    stepwise.dispose()
    direct.dispose()


def test_models_and_migrations_do_not_drift(tmp_path):
    engine = engine_at(tmp_path / "head.sqlite3", "head")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                         "render_as_batch": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], f"models and migrations differ (add a migration): {differences}"
    engine.dispose()


# --- a data folder of the previous release, opened by today's codatdesk -------------------

def _expenses_in_every_state(engine: Engine) -> dict[int, str]:
    """0001's hand-written rows, then a copy of its first expense per status; returns id -> status."""
    from codatdesk.states import ExpenseStatus

    metadata = MetaData()
    metadata.reflect(engine)
    expense = metadata.tables["expense"]
    with engine.begin() as conn:
        first = dict(conn.execute(select(expense).where(expense.c.id == 1)).one()._mapping)
        for n, status in enumerate(ExpenseStatus):
            conn.execute(expense.insert().values({**first, "id": None, "status": status.value,
                                                  "source_key": f"copy-{n}", "reference": f"COPY-{n}"}))
        return {row.id: row.status for row in conn.execute(select(expense.c.id, expense.c.status))}


@pytest.mark.sqlite_only  # a data folder's own file; a team database is upgraded by its server (tests/team)
def test_a_data_folder_of_the_previous_release_opens_with_every_expense_and_setting_kept(tmp_path, capsys):
    import json

    from codatdesk import cli, paths
    from codatdesk.settings import Settings

    previous_head = REVISIONS[-2]
    home = tmp_path / "data"
    home.mkdir()
    engine = engine_at(home / paths.database_path().name, REVISIONS[0])
    fill_0001(engine)
    command.upgrade(alembic_config(engine), previous_head)
    statuses = _expenses_in_every_state(engine)
    engine.dispose()
    Settings(home / paths.settings_path().name).set("listener.port", 8899)
    try:
        assert cli.main(["--data-dir", str(home), "list", "--json"]) == 0  # today's code, as a user starts it
        listed = json.loads(capsys.readouterr().out)
        again = make_engine(f"sqlite:///{home / paths.database_path().name}")
        assert current_revision(again) == REVISIONS[-1]
        before = all_rows(again)
        assert cli.main(["--data-dir", str(home), "list", "--json"]) == 0  # the second start migrates nothing
        assert all_rows(again) == before
        again.dispose()
    finally:
        paths.set_data_dir(None)
    rows = listed["expenses"] if isinstance(listed, dict) else listed
    assert {row["id"]: row["status"] for row in rows} == statuses
    assert Settings(home / paths.settings_path().name).get("listener.port") == 8899


@pytest.mark.sqlite_only  # a data folder's own file; a newer team database: tests/team/test_team_setup.py
def test_a_data_folder_of_a_newer_version_is_refused_untouched(tmp_path, capsys):
    from codatdesk import cli, paths
    from codatdesk.version import DataFromNewerVersion

    home = tmp_path / "data"
    home.mkdir()
    engine = engine_at(home / paths.database_path().name, "head")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(DataFromNewerVersion, match=r"newer version of codatdesk .*0099_from_the_future"):
        migrate(engine)
    try:
        assert cli.main(["--data-dir", str(home), "list"]) == 2
    finally:
        paths.set_data_dir(None)
    err = capsys.readouterr().err
    assert "written by a newer version of codatdesk" in err and "Install the newer version" in err
    assert "Traceback" not in err
    assert current_revision(engine) == "0099_from_the_future"
    engine.dispose()
