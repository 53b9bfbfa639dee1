"""``codatdesk team init URL`` and ``codatdesk team invite NAME`` (issue #15, docs/team.md)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from codatdesk import secrets
from codatdesk.settings import Settings
from codatdesk.store.db import make_engine, migrate
from codatdesk.team import roles
from codatdesk.team.schema import TeamStoreError, current_revision, head_revision, unreachable
from codatdesk.team.store_url import (
    DatabaseUrlError,
    configured_url,
    is_team_url,
    normalized,
    shown,
    with_stored_password,
    without_password,
)

# Oldest PostgreSQL codatdesk accepts (codatdesk's choice: a supported major version; tested on Debian's).
MIN_SERVER_VERSION = 13


@dataclass
class InitReport:
    url: str  # without the password
    server_version: str
    revision: str
    grants_applied: bool
    grants_problem: str | None

    def lines(self) -> list[str]:
        out = [f"team database {self.url} is ready: {self.server_version}, schema version {self.revision}",
               "saved as this computer's database.url (its password, if any, in the keyring)"]
        if self.grants_applied:
            out.append(f"role {roles.DESKTOP_ROLE}: desktops read everything and edit expenses, never the "
                       "webhook inbox or the schema")
        else:
            out.append(f"roles NOT set up ({self.grants_problem}): run `codatdesk team init` again as the "
                       "database's owner to create them")
        out += ["next: run `codatdesk serve` here (it is the team's only Codat side), then "
                "`codatdesk team invite NAME` for each colleague"]
        return out


def init_team_database(url: str, settings: Settings | None = None) -> InitReport:
    """Check the server, bring the schema to this version, set up the roles, and remember the URL here."""
    settings = settings or Settings()
    if not is_team_url(url):
        raise DatabaseUrlError(f"{shown(url)} is not a PostgreSQL URL: write postgresql://USER@HOST:5432/DATABASE")
    plain, password = without_password(normalized(url))
    engine = make_engine(with_stored_password(normalized(url)) if password is None else normalized(url))
    try:
        try:
            with engine.connect() as conn:
                number = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
                version = conn.exec_driver_sql("SELECT version()").scalar_one().split(",")[0]
                conn.execute(text("SELECT pg_notify('codatdesk_check', '')"))  # LISTEN/NOTIFY carries live changes
        except OperationalError as exc:
            raise unreachable(engine, exc) from None
        if number < MIN_SERVER_VERSION * 10000:
            raise TeamStoreError(f"{version} is older than PostgreSQL {MIN_SERVER_VERSION}, the oldest codatdesk "
                                 "supports: upgrade the server first")
        migrate(engine)
        problem = None
        try:
            roles.apply_grants(engine)
        except ProgrammingError as exc:  # not the owner, or no CREATEROLE
            problem = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        revision = current_revision(engine) or head_revision()
    finally:
        engine.dispose()
    if password is not None:
        secrets.put(secrets.DATABASE_PASSWORD, password)
    settings.set("database.url", plain)
    return InitReport(shown(plain), version, revision, problem is None, problem)


def invite_text(name: str, *, reset_password: bool = False, settings: Settings | None = None) -> str:
    """Create ``name``'s desktop login (if new) and return what they enter in their desktop's settings:
    the address and their own password, nothing of the server's."""
    url = configured_url(settings)
    if not is_team_url(url):
        raise TeamStoreError("this computer uses its own database file: run `codatdesk team init URL` (or give "
                             "--database URL) before inviting colleagues")
    engine = make_engine(url)
    try:
        try:
            password = roles.create_desktop_login(engine, name, reset_password=reset_password)
        except OperationalError as exc:
            raise unreachable(engine, exc) from None
        except ProgrammingError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise TeamStoreError(f"could not create the login {name!r}: {reason}. Run this as the role that ran "
                                 "`codatdesk team init` (it needs CREATEROLE).") from None
    finally:
        engine.dispose()
    if password:
        secrets.register_for_redaction(secrets.DATABASE_PASSWORD, password)
    theirs = make_url(url)._replace(password=None).set(username=name, drivername="postgresql")
    address = theirs.render_as_string(hide_password=False)
    lines = [f"Send this to {name} (the password to them alone):", "",
             f"  Database URL:  {address}",
             f"  Password:      {password}" if password else
             "  Password:      (unchanged: the one they have; `team invite --reset-password` makes a new one)",
             "", "  In codatdesk: Settings, the Team database page (both fields); then start codatdesk again.",
             "  Or on the command line:",
             f"    codatdesk settings set database.url {address}",
             "    codatdesk settings set-secret database_password    (then paste the password)", "",
             "Their desktop holds no Codat key: the team's server sends the pushes and receives the webhooks."]
    return "\n".join(lines)
