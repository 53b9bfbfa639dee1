"""The test PostgreSQL is real, and the store's migrations run on it."""

from __future__ import annotations

from sqlalchemy import text


def test_a_fresh_database_is_migrated_to_head(pg_url):
    from codatdesk.store.db import open_database

    engine = open_database(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select version()")).scalar().startswith("PostgreSQL")
            assert conn.execute(text("select count(*) from expense")).scalar() == 0
    finally:
        engine.dispose()
