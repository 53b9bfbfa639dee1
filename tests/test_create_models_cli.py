"""`codatdesk refresh`: re-reads Codat's reference lists and create models and prints what it read."""

from __future__ import annotations

from sqlmodel import Session, select

from codatdesk.store.db import open_database
from codatdesk.store.models import CreateModel
from tests.test_cli import codat, run_cli  # noqa: F401  (the fixture)


def test_refresh_prints_the_lists_and_models_it_read(codat):  # noqa: F811
    sandbox, home = codat
    done = run_cli(["refresh", "--data-dir", str(home)], api_key=sandbox.api_key)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"read from Codat for company {sandbox.company_id} (connection {sandbox.connection_id}, Linked)" in out
    assert "accounts: " in out and "suppliers: " in out and "taxRates: " in out and "bankAccounts: " in out
    assert "chartOfAccounts: 3 required field(s); at most: nominalCode \u2264 10; allowed values: " \
           "fullyQualifiedCategory (" in out
    assert "directCosts: " in out and "reference \u2264 255" in out
    assert "suppliers: 1 required field(s)" in out
    engine = open_database(f"sqlite:///{home / 'codatdesk.sqlite3'}")
    try:
        with Session(engine) as session:
            assert len(session.exec(select(CreateModel)).all()) == 3
    finally:
        engine.dispose()
