"""The team-mode errors whose message is the whole story for the user (the CLI prints them, no traceback)."""

from __future__ import annotations

from codatdesk.team.roles import RoleNameError
from codatdesk.team.schema import TeamStoreError
from codatdesk.team.store_url import DatabaseUrlError

USER_FACING: tuple[type[Exception], ...] = (TeamStoreError, DatabaseUrlError, RoleNameError)
