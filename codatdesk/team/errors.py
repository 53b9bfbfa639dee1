"""The team-mode errors whose message is the whole story for the user (the CLI prints them, no traceback)."""

from __future__ import annotations

from codatdesk.team.roles import RoleNameError
from codatdesk.team.schema import TeamStoreError
from codatdesk.team.store_url import DatabaseUrlError

USER_FACING: tuple[type[Exception], ...] = (TeamStoreError, DatabaseUrlError, RoleNameError)


def plain_message(error: BaseException) -> str | None:
    """The window's text for a start that failed on the database itself (None: not such an error). The
    message is the whole story, so the window shows it as a sentence, without the exception's name."""
    from codatdesk.version import DataFromNewerVersion

    if not isinstance(error, (*USER_FACING, DataFromNewerVersion)):
        return None
    text = str(error)
    return text[:1].upper() + text[1:]
