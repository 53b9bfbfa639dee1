"""Alembic environment: runs against the engine codatdesk hands it (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

from codatdesk.store import models  # noqa: F401  (registers the tables)

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
            context.run_migrations()


run_migrations_online()
