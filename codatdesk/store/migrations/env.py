"""Alembic environment: runs against the engine codatdesk hands it (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

from codatdesk.store import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata
MIGRATION_LOCK_KEY = 0x636F6461_0001  # "coda" + 1: codatdesk's advisory lock for schema upgrades


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
