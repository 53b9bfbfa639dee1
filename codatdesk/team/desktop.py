"""A desktop in team mode: the same Core, composed without Codat.

It holds no Codat API key and runs no listener, tunnel, applier or reconciler: the team's server
(``codatdesk serve --database postgresql://...``) does all of that. What the desktop keeps:
reading and editing the shared expenses, and the explain-before-send checks, run here against the
shared data (Codat's lists, the create models and the connection status the server stored), so
their answers reach the person before anything is queued. A push becomes push requests
(team/requests.py) that the active server claims and sends.
"""

from __future__ import annotations

import itertools

from sqlalchemy.engine import Engine
from sqlmodel import Session

from codatdesk.codat import CodatClient
from codatdesk.engine.core import Core
from codatdesk.engine.gil import answer_waiting_threads_sooner
from codatdesk.engine.push_check import CheckedPush
from codatdesk.engine.pusher import ProblemKind, PushBatch, PushProblem
from codatdesk.events import EventBus, PushProgress
from codatdesk.settings import Settings
from codatdesk.store.actor import actor_of
from codatdesk.store.models import Connection
from codatdesk.team.requests import request_push

_batch_ids = itertools.count(1_000_000)  # apart from the engine's own batch numbers


class ServerOnly(RuntimeError):
    """Something only the team's server does (it holds the Codat key)."""


def _no_codat_client() -> CodatClient:
    raise ServerOnly("In team mode only the team's server talks to Codat; this desktop holds no Codat key.")


class TeamDesktopCore(Core):
    def __init__(self, settings: Settings, db: Engine, *, bus: EventBus | None = None) -> None:
        super().__init__(settings, db, bus=bus, client_factory=_no_codat_client, listen=False)
        # The server uploads receipts (when a row completes, or a receipt is attached to a complete one);
        # the feed tells this desktop of the same rows.
        self.stop_uploading_receipts()
        self.receipt_uploads.uploads_here = False
        # The check reads the connection status the server stored instead of asking Codat.
        self.pusher._connection_state = self._stored_connection_state  # type: ignore[method-assign]
        self.actor = actor_of(db)

    def _stored_connection_state(self, company_id: str) -> tuple[str | None, str | None]:
        connection_id = self.connection_for(company_id)
        if connection_id is None:
            return None, None
        with Session(self.db) as session:
            conn = session.get(Connection, connection_id)
        return connection_id, conn.status if conn else None

    # -- lifecycle: only the change feed runs here; the server listens, applies and reconciles ----------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        answer_waiting_threads_sooner()  # the GUI thread, back from its event loop, waits less for the GIL
        from codatdesk.team.change_feed import listen_for_changes

        self.change_feed = listen_for_changes(self.db, self.bus)  # what the server and colleagues commit

    def stop(self) -> None:
        if self._started:
            self._started = False
            if self.change_feed is not None:
                self.change_feed.stop()
            self.pusher.shutdown()

    # -- pushing = asking the server -----------------------------------------------------------------
    def _read_reference_data_once(self, expense_ids: list[int]) -> None:
        """The check reads the lists the server stored; only the server asks Codat for them."""

    def push(self, expense_ids: list[int], *, user: str = "user", checked: CheckedPush | None = None) -> PushBatch:
        """Check here, then queue what passed for the team's server; the batch ends at once (the rows
        show *Push requested*, then the server's progress as it happens). ``checked`` is not taken
        back: checking again reads only the database, and a colleague may have changed a row since."""
        ids = list(expense_ids)
        batch = PushBatch(next(_batch_ids), total=len(ids))
        batch.problems = self.check_pushable(ids)
        blocked = {p.expense_id for p in batch.problems}
        requested = request_push(self.db, [i for i in ids if i not in blocked], self.actor)
        batch.add_problems(requested.refused)
        batch.done.set()
        self.bus.publish(PushProgress(batch.id, batch.total, batch.total,
                                      f"{len(requested.queued)} asked of the team's server, "
                                      f"{len(batch.problems)} not sent", finished=True))
        return batch

    def push_again_anyway(self, expense_ids: list[int], *, user: str = "user",
                          checked: CheckedPush | None = None) -> PushBatch:
        batch = PushBatch(next(_batch_ids), total=len(expense_ids), again_anyway=True)
        batch.add_problems(PushProblem(i, "in team mode, \u201cpush again anyway\u201d is done on the team's server "
                                          "(codatdesk push --again-anyway there)", ProblemKind.STATE)
                           for i in expense_ids)
        batch.done.set()
        return batch

    def pushed_by_me(self) -> set[int]:
        """The expenses this desktop's person pushed (the table's "pushed by me" filter)."""
        from codatdesk.team.who import pushed_by

        return pushed_by(self.db, self.actor)

    def reconcile_now(self) -> None:
        """The team's server reconciles; its results reach this desktop through the database."""

    def refresh_reference_data(self, company_id: str | None = None) -> dict[str, int]:
        raise ServerOnly("In team mode the team's server reads Codat's lists (it does so before each push).")

    def check_connection(self, company_id: str | None = None) -> str:
        company_id = company_id or self.company_id
        if not company_id:
            return "not chosen"
        return self._stored_connection_state(company_id)[1] or "unknown (the team's server has not checked it yet)"

    def register_webhook(self, url: str | None = None) -> dict[str, object]:
        raise ServerOnly("In team mode only the team's server receives Codat's webhooks.")

    def _tag_for_webhooks(self, company_id: str) -> None:
        """The server tags served companies when it registers (it holds the key)."""


def core_for(settings: Settings, db: Engine) -> Core:
    """The window's core: a team desktop on a shared PostgreSQL, else the whole core (one person)."""
    return TeamDesktopCore(settings, db) if db.dialect.name == "postgresql" else Core(settings, db)
