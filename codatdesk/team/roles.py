"""Roles and grants of a team database (issue #15; PostgreSQL docs, "Privileges" and GRANT).

The role that ran ``codatdesk team init`` owns the tables and is the server's: it migrates, receives
webhooks and sends pushes. Each colleague logs in as a role of their own, a member of ``codatdesk_desktop``:
it reads everything, edits the books and asks for pushes (push_request), but cannot write the webhook inbox
(only the server receives Codat's deliveries), nor the record of what was sent (push_operation, push_attempt:
only the server sends), nor change the schema (desktops never migrate). Codat's API key and the webhook
secrets are never in the database: they stay in the server's keyring, so no grant can reach them.
"""

from __future__ import annotations

import re
import secrets as random_secrets

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

DESKTOP_ROLE = "codatdesk_desktop"
# Written only by the server: the inbox (a desktop could otherwise forge a Codat result), what was sent to Codat
# (only the server sends: a desktop asks through push_request, team/requests.py), and the schema version.
SERVER_ONLY_TABLES = ("webhook_delivery", "push_operation", "push_attempt", "alembic_version")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RoleNameError(ValueError):
    pass


def check_role_name(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise RoleNameError(f"{name!r} cannot be a database login: use lower-case letters, digits and _ "
                            "(at most 63, not starting with a digit), e.g. anna_smith")
    if name.startswith("pg_") or name == DESKTOP_ROLE:
        raise RoleNameError(f"{name!r} is reserved: choose another login name")
    return name


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def apply_grants(engine: Engine) -> list[str]:
    """Create the desktop role if needed and grant it what desktops may do on every table (idempotent:
    run again after each upgrade, since a new table has no grants). Returns the statements run."""
    done: list[str] = []
    with engine.begin() as conn:
        database = _quote(conn, conn.exec_driver_sql("SELECT current_database()").scalar_one())
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": DESKTOP_ROLE}).first()
        statements = [] if exists else [f"CREATE ROLE {DESKTOP_ROLE} NOLOGIN"]
        statements += [f"REVOKE ALL ON DATABASE {database} FROM PUBLIC",
                       f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {DESKTOP_ROLE}",
                       "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                       f"GRANT USAGE ON SCHEMA public TO {DESKTOP_ROLE}"]
        for table in sorted(inspect(conn).get_table_names(schema="public")):
            quoted = _quote(conn, table)
            statements.append(f"GRANT SELECT ON {quoted} TO {DESKTOP_ROLE}")
            if table in SERVER_ONLY_TABLES:
                statements.append(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quoted} FROM {DESKTOP_ROLE}")
            else:
                statements.append(f"GRANT INSERT, UPDATE, DELETE ON {quoted} TO {DESKTOP_ROLE}")
        statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {DESKTOP_ROLE}")
        for statement in statements:
            conn.exec_driver_sql(statement)
            done.append(statement)
    return done


def role_exists(engine: Engine, name: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first() is not None


def create_desktop_login(engine: Engine, name: str, *, reset_password: bool = False) -> str | None:
    """A login role for one colleague in the desktop role; returns its new password (None: the role existed
    and ``reset_password`` was not asked, so its password is unchanged)."""
    check_role_name(name)
    password = random_secrets.token_urlsafe(24)
    with engine.begin() as conn:
        quoted = _quote(conn, name)
        literal = "'" + password.replace("'", "''") + "'"  # token_urlsafe has no quote; CREATE ROLE takes no bind
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first() is None:
            conn.exec_driver_sql(f"CREATE ROLE {quoted} LOGIN PASSWORD {literal} IN ROLE {DESKTOP_ROLE}")
        elif reset_password:
            conn.exec_driver_sql(f"ALTER ROLE {quoted} LOGIN PASSWORD {literal}")
            conn.exec_driver_sql(f"GRANT {DESKTOP_ROLE} TO {quoted}")
        else:
            conn.exec_driver_sql(f"GRANT {DESKTOP_ROLE} TO {quoted}")
            return None
    return password
