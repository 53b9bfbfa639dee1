"""Who may change a shared database's schema, and opening the configured store (team mode, issue #15).

One person's SQLite file is migrated by whichever codatdesk opens it, as always. A team's PostgreSQL is
upgraded only by the server side (``codatdesk serve``, ``codatdesk team init``): a desktop never migrates it,
so upgrading one laptop cannot change the schema under the server and the other desktops. Upgrade order is
therefore server first, then desktops; a desktop refuses a database at any other version than its own, with
what to do (codatdesk's choice: PostgreSQL itself has no such rule).
"""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from codatdesk.settings import Settings
from codatdesk.store.db import alembic_config, make_engine, open_database
from codatdesk.team.store_url import configured_url, is_team_url, shown
from codatdesk.version import DataFromNewerVersion


class TeamStoreError(Exception):
    """The team database cannot be used as it is; the message is the whole story (reason and fix)."""


class SchemaBehind(TeamStoreError):
    """The shared database is at an older schema than this codatdesk (or not set up): the server upgrades it."""


class DatabaseUnreachable(TeamStoreError):
    pass


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()  # type: ignore[arg-type]
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config(None)).walk_revisions()}  # type: ignore[arg-type]


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise unreachable(engine, exc) from None


def unreachable(engine: Engine, exc: OperationalError) -> DatabaseUnreachable:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return DatabaseUnreachable(
        f"cannot open the team database {shown(engine.url)}: {reason}. Check the address with "
        "`codatdesk settings` (database.url) and the password with `codatdesk settings set-secret "
        "database_password` (or CODATDESK_DATABASE_PASSWORD on a server).")


def check_desktop_schema(engine: Engine) -> None:
    """A desktop works only on a shared database at exactly its own schema version."""
    from codatdesk import __version__

    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    where = shown(engine.url)
    if current is None:
        raise SchemaBehind(f"the team database {where} is not set up yet: whoever runs the team's server sets it "
                           "up with `codatdesk team init URL` (docs/team.md). Nothing was changed.")
    if current not in known_revisions():
        raise DataFromNewerVersion(
            f"the team database {where} was upgraded by a newer codatdesk (database version {current}); this is "
            f"codatdesk {__version__}. Install the version the team's server runs, then open it again. "
            "Nothing was changed.")
    raise SchemaBehind(
        f"the team database {where} is at version {current}, and this codatdesk {__version__} needs {head}. "
        "Upgrade the team's server first: its next `codatdesk serve` (or `codatdesk team init URL`) upgrades "
        "the database; then open this desktop again. Nothing was changed.")


def open_store(settings: Settings | None = None, *, upgrades: bool) -> Engine:
    """The configured store, opened. ``upgrades``: this process may migrate a shared database (the server).

    One person's SQLite file is always migrated on open (nobody else uses it)."""
    url = configured_url(settings)
    if not is_team_url(url):
        return open_database(url)
    engine = make_engine(url)
    try:
        if upgrades:
            try:
                from codatdesk.store.db import migrate

                migrate(engine)
            except OperationalError as exc:
                raise unreachable(engine, exc) from None
        else:
            check_desktop_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
