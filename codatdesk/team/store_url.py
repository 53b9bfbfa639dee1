"""Which database this process uses (team mode, issue #15).

One person keeps the SQLite file in the data folder (the default). A team shares one PostgreSQL:
its URL is the setting ``database.url`` (``CODATDESK_DATABASE_URL`` overrides it, ``--database URL``
overrides both for one command) and its password lives in the keyring as ``database_password``
(``CODATDESK_DATABASE_PASSWORD`` on a headless server), never in ``settings.json``.
"""

from __future__ import annotations

from sqlalchemy import make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from codatdesk import secrets
from codatdesk.settings import Settings

# SQLAlchemy's plain "postgresql" means psycopg2; codatdesk ships psycopg 3.
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_NAMES = ("postgresql", "postgres", POSTGRES_DRIVER)

_override: str | None = None  # --database URL, for this process


class DatabaseUrlError(ValueError):
    """A database URL codatdesk cannot use; the message says why and what to write instead."""


def use_database(url: str | None) -> None:
    """``--database URL``: this process uses ``url`` whatever the settings say (None: the settings again)."""
    global _override
    _override = url or None


def is_team_url(url: str) -> bool:
    """A shared PostgreSQL (team mode) rather than one person's SQLite file."""
    return url.split(":", 1)[0].lower() in _POSTGRES_NAMES


def normalized(url: str) -> str:
    """``url`` in the form SQLAlchemy opens with psycopg 3 (``postgres://`` and ``postgresql://`` accepted)."""
    url = url.strip()
    if not is_team_url(url):
        if url.startswith("sqlite"):
            return url
        raise DatabaseUrlError(f"{_shown(url)} is not a database codatdesk can use: write "
                               "postgresql://USER@HOST:5432/DATABASE for a team, or leave it empty for this "
                               "computer's own file")
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    except ArgumentError:
        raise DatabaseUrlError(f"{_shown(url)} is not a valid database URL: write "
                               "postgresql://USER@HOST:5432/DATABASE") from None
    if not parsed.host and not parsed.query.get("host"):
        raise DatabaseUrlError(f"{_shown(url)} names no server: write postgresql://USER@HOST:5432/DATABASE")
    if not parsed.database:
        raise DatabaseUrlError(f"{_shown(url)} names no database: add it after the server, "
                               "e.g. postgresql://USER@HOST:5432/codatdesk")
    return parsed.set(drivername=POSTGRES_DRIVER).render_as_string(hide_password=False)


def without_password(url: str) -> tuple[str, str | None]:
    """The URL to keep in the settings file and the password it carried (for the keyring)."""
    if not is_team_url(url):
        return url, None
    parsed = make_url(normalized(url))
    password = parsed.password
    return parsed._replace(password=None).render_as_string(hide_password=False), (str(password) if password else None)


def configured_url(settings: Settings | None = None) -> str:
    """The URL this process opens: ``--database``, else the setting (or its environment variable), else the
    SQLite file in the data folder. A team URL without a password gets the stored one."""
    from codatdesk.store.db import default_url

    raw = _override
    if raw is None:
        if settings is None:
            settings = Settings()
        raw = settings.get("database.url") or ""
    if not raw:
        return default_url()
    url = normalized(raw)
    if not is_team_url(url):
        return url
    return with_stored_password(url)


def with_stored_password(url: str) -> str:
    parsed = make_url(url)
    if parsed.password:
        secrets.register_for_redaction(secrets.DATABASE_PASSWORD, str(parsed.password))
        return url
    password = secrets.get(secrets.DATABASE_PASSWORD)
    return parsed.set(password=password).render_as_string(hide_password=False) if password else url


def shown(url: str | URL) -> str:
    """The URL for messages and logs: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _shown(str(url))


def _shown(url: str) -> str:
    # Not parseable: show only the part before any credentials.
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}…@{rest.rpartition('@')[2]}" if "@" in rest else url


def keep_database_url(settings: Settings, url: str) -> str:
    """``settings set database.url URL``: the URL goes to the settings file without its password, which goes
    to the keyring (settings.json is not a place for secrets). Returns what was saved."""
    url = (url or "").strip()
    if not url:
        settings.set("database.url", "")
        return ""
    plain, password = without_password(normalized(url))
    if password is not None:
        secrets.put(secrets.DATABASE_PASSWORD, password)
    if is_team_url(plain):  # keep the URL as people write it: postgresql://, psycopg is our business
        plain = make_url(plain).set(drivername="postgresql").render_as_string(hide_password=False)
    settings.set("database.url", plain)
    return plain
