"""Which database a process opens: --database, CODATDESK_DATABASE_URL, the setting, else the data folder's file;
a team database's password comes from the keyring and never lands in settings.json."""

from __future__ import annotations

import pytest

from codatdesk import secrets
from codatdesk.settings import Settings
from codatdesk.store.db import default_url
from codatdesk.team import store_url
from codatdesk.team.store_url import DatabaseUrlError, configured_url, keep_database_url, normalized, without_password


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("CODATDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("CODATDESK_DATABASE_PASSWORD", raising=False)
    store_url.use_database(None)
    yield
    store_url.use_database(None)


def test_one_person_keeps_the_file_in_the_data_folder():
    assert configured_url(Settings()) == default_url()


@pytest.mark.parametrize("written", ["postgresql://anna@db.example:5432/books", "postgres://anna@db.example:5432/books",
                                     "postgresql+psycopg://anna@db.example:5432/books"])
def test_team_urls_open_with_psycopg_3(written):
    assert normalized(written) == "postgresql+psycopg://anna@db.example:5432/books"


@pytest.mark.parametrize(("written", "says"), [("mysql://anna@db/books", "postgresql://USER@HOST"),
                                               ("postgresql://anna@db.example", "names no database"),
                                               ("postgresql:///books", "names no server")])
def test_an_unusable_url_says_what_to_write(written, says):
    with pytest.raises(DatabaseUrlError, match=says):
        normalized(written)


def test_precedence_is_flag_then_environment_then_setting(monkeypatch):
    settings = Settings()
    settings.set("database.url", "postgresql://setting@db/books")
    assert configured_url(settings) == "postgresql+psycopg://setting@db/books"
    monkeypatch.setenv("CODATDESK_DATABASE_URL", "postgresql://env@db/books")
    assert configured_url(Settings()) == "postgresql+psycopg://env@db/books"
    store_url.use_database("postgresql://flag@db/books")
    assert configured_url(Settings()) == "postgresql+psycopg://flag@db/books"


def test_the_password_comes_from_the_keyring_or_the_environment(monkeypatch):
    settings = Settings()
    settings.set("database.url", "postgresql://anna@db/books")
    assert configured_url(settings) == "postgresql+psycopg://anna@db/books"  # none stored: the server may use peer/trust
    secrets.put(secrets.DATABASE_PASSWORD, "s3cr:et@")
    assert configured_url(settings) == "postgresql+psycopg://anna:s3cr%3Aet%40@db/books"
    monkeypatch.setenv("CODATDESK_DATABASE_PASSWORD", "from-env")
    assert configured_url(settings) == "postgresql+psycopg://anna:from-env@db/books"


def test_a_password_written_in_the_url_goes_to_the_keyring_not_the_settings_file(memory_keyring):
    settings = Settings()
    saved = keep_database_url(settings, "postgresql://anna:hunter2@db.example:5432/books")
    assert saved == "postgresql://anna@db.example:5432/books"
    assert "hunter2" not in settings.path.read_text()
    assert memory_keyring.store[(secrets.SERVICE, secrets.DATABASE_PASSWORD)] == "hunter2"
    assert configured_url(Settings()) == "postgresql+psycopg://anna:hunter2@db.example:5432/books"


def test_without_password_splits_url_and_password():
    assert without_password("postgresql://a:b@h/d") == ("postgresql+psycopg://a@h/d", "b")
    assert without_password("sqlite:///x.sqlite3") == ("sqlite:///x.sqlite3", None)


def test_cli_settings_set_keeps_the_password_out_of_the_file(memory_keyring, capsys):
    from codatdesk.cli import main

    assert main(["settings", "set", "database.url", "postgresql://anna:hunter2@db.example/books"]) == 0
    assert "hunter2" not in capsys.readouterr().out
    assert "hunter2" not in Settings().path.read_text()
    assert memory_keyring.store[(secrets.SERVICE, secrets.DATABASE_PASSWORD)] == "hunter2"


def test_cli_refuses_a_bad_database_url_in_plain_words(capsys):
    from codatdesk.cli import main

    assert main(["list", "--database", "mysql://anna@db/books"]) == 2
    err = capsys.readouterr().err
    assert "not a database codatdesk can use" in err and "postgresql://USER@HOST" in err


def test_the_window_says_why_a_database_cannot_be_used_in_a_sentence():
    from codatdesk.team.errors import plain_message
    from codatdesk.team.schema import SchemaBehind

    assert plain_message(SchemaBehind("the team database x is at version 1")) == "The team database x is at version 1"
    assert plain_message(DatabaseUrlError("mysql://… is not a database")).startswith("Mysql://")
    assert plain_message(RuntimeError("boom")) is None


def test_every_command_takes_database_before_or_after_its_name():
    from codatdesk.cli import build_parser

    parser = build_parser()
    for command in ("gui", "serve", "push", "list", "reconcile", "settings"):
        assert parser.parse_args([command, "--database", "postgresql://a@h/d"]).database == "postgresql://a@h/d"
        assert parser.parse_args(["--database", "postgresql://a@h/d", command]).database == "postgresql://a@h/d"
    assert parser.parse_args(["list"]).database is None


def test_receipts_of_a_team_database_stay_in_the_data_folder_not_the_working_directory(data_dir):
    """A PostgreSQL URL's database is a name, not a path: Path(name).resolve() was the current directory."""
    from sqlalchemy import make_url

    from codatdesk.receipts.files import folder_for_database

    assert folder_for_database(make_url("postgresql+psycopg://anna@db/books")) == data_dir / "receipts"
    assert folder_for_database(make_url(f"sqlite:///{data_dir / 'x' / 'db.sqlite3'}")) == data_dir / "x" / "receipts"
