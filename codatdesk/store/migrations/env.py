"""Alembic environment: runs against the engine codatdesk hands it (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

from codatdesk.store import models  # noqa: F401  (registers the tables)
from codatdesk.store.db import MIGRATION_LOCK_KEY

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two servers starting at once (failover) upgrade a shared database one after the other:
                # the second waits here, then finds it at head. Released with the migration's transaction.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            context.run_migrations()


run_migrations_online()
